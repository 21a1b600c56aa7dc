"""A 256 MiB tus upload to S3 through a real API process: its bytes stream into the multipart upload
one part at a time, so the process's peak RSS grows by far less than the file (moto, holding the
object, runs in pytest)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_upload_memory import PADDING, RSS_BOUND_MIB, _kib, _padded, api_process
from tests.conftest import free_port, service_env, start_server, stop_server
from tests.s3 import bucket_keys, incomplete_uploads, s3_url

pytestmark = pytest.mark.slow  # a real API process and 256 MiB through it

MIB = 1024**2
TUS = {"Tus-Resumable": "1.0.0"}


def _tus_upload(client: httpx.Client, length: int, body: Iterator[bytes] | bytes) -> str:
    created = client.post("/api/v1/uploads", json={"title": "big"})
    assert created.status_code == 201, created.text
    url = created.json()["data"]["uploadUrl"]
    upload_id = created.json()["data"]["uploadId"]
    headers = {**TUS, "Upload-Length": str(length), "Upload-Metadata": "filename YmlnLm1wNA=="}
    assert client.post(url, headers=headers).status_code == 201
    patch = {**TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}
    resp = client.patch(url, content=body, headers=patch)
    assert resp.status_code == 204, resp.text
    done = client.get(f"/api/v1/uploads/{upload_id}").json()["data"]
    assert done["status"] == "completed", done
    return str(done["mediaId"])


def test_s3_tus_upload_memory_is_bounded(
    tmp_path: Path, s3_endpoint: str, bucket: str, clips: dict[str, Path]
) -> None:
    url = s3_url(bucket, s3_endpoint)
    data = tmp_path / "data"
    port = free_port()
    setup = start_server(data, storage_url=url, public_url=f"http://127.0.0.1:{port}")
    key = setup.key()
    stop_server(setup)
    env = {
        **os.environ,
        **service_env(setup.settings),
        "VSRC_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "VSRC_RATE_LIMIT": "100000/15 minutes",
        "VSRC_LOG_LEVEL": "WARNING",
    }
    api = api_process(env, port, tmp_path / "api.log")
    base = f"http://127.0.0.1:{port}"
    try:
        clip = clips["mp4"].read_bytes()
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
            # Warm-up: the first upload imports PyAV and boto3's paths; not measured.
            _tus_upload(client, len(clip), clip)
            before = _kib(api.pid, "VmHWM")
            media_id = _tus_upload(client, len(clip) + 8 + PADDING, _padded(clip))
            growth = (_kib(api.pid, "VmHWM") - before) / 1024
        assert f"media/{media_id}/original.mp4" in bucket_keys(s3_endpoint, bucket)
        assert incomplete_uploads(s3_endpoint, bucket) == []
        assert not [k for k in bucket_keys(s3_endpoint, bucket) if k.startswith("tus/")]
        print(f"API peak RSS growth during a {PADDING // MIB} MiB tus upload to S3: {growth:.1f} MiB")
        assert growth < RSS_BOUND_MIB, f"peak RSS grew by {growth:.1f} MiB"
        assert not [p for p in (data / "tmp").rglob("*") if p.is_file()]  # no partial file, no scratch
    finally:
        api.terminate()
        api.wait(timeout=30)
