"""Uploads to S3 through a real API process: a 256 MiB upload holds two multipart parts at a time (the
process's peak RSS grows by far less than the file; moto, holding the object, runs in pytest), and a
killed process's unfinished multipart upload is ended by the next one."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, service_env, start_server, stop_server
from tests.helpers import eventually
from tests.s3 import bucket_keys, incomplete_uploads, s3_client, s3_url

pytestmark = pytest.mark.slow  # a real API process and 256 MiB through it

MIB = 1024**2
PADDING = 256 * MIB
RSS_BOUND_MIB = 64  # one 8 MiB part (and its copy while sent) plus the read-ahead, with room


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def _padded(clip: bytes) -> Iterator[bytes]:
    """The clip, then a 256 MiB top-level ``free`` box (MP4's padding, skipped by demuxers)."""
    yield clip
    yield struct.pack(">I4s", PADDING + 8, b"free")
    block = b"\0" * MIB
    for _ in range(PADDING // MIB):
        yield block


def _multipart(boundary: str, clip: bytes) -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nbig\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    yield from _padded(clip)
    yield f"\r\n--{boundary}--\r\n".encode()


def api_process(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """The app factory `vsrc api` serves, run by uvicorn directly on ``port`` (one process whose
    memory the tests read), once it answers ``/health``."""
    argv = [sys.executable, "-m", "uvicorn", "vsrc.api.app:app_from_env", "--factory"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(argv, env=env, stderr=log.open("ab"))

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        eventually(up, timeout=120, what="the API process answers")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc


def test_s3_upload_memory_is_bounded(
    tmp_path: Path, s3_endpoint: str, bucket: str, clips: dict[str, Path]
) -> None:
    url = s3_url(bucket, s3_endpoint)
    data = tmp_path / "data"
    # Migrated (and a key made) in this process; the API itself runs in its own process.
    setup = start_server(data, storage_url=url)
    key = setup.key()
    stop_server(setup)
    port = free_port()
    env = {
        **os.environ,
        **service_env(setup.settings),
        "VSRC_RATE_LIMIT": "100000/15 minutes",
        "VSRC_LOG_LEVEL": "WARNING",
    }
    api = api_process(env, port, tmp_path / "api.log")
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    try:
        clip = clips["mp4"].read_bytes()
        with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
            # Warm-up: the first upload imports PyAV and boto3's upload path; not measured.
            warm = client.post("/api/v1/media/upload", files={"file": ("w.mp4", clip)}, data={"title": "w"})
            assert warm.status_code == 201, warm.text
            before = _kib(api.pid, "VmHWM")
            resp = client.post(
                "/api/v1/media/upload",
                content=_multipart("MemBoundary", clip),
                headers={"Content-Type": "multipart/form-data; boundary=MemBoundary"},
            )
            assert resp.status_code == 201, resp.text
            growth = (_kib(api.pid, "VmHWM") - before) / 1024
        media_id = resp.json()["data"]["mediaId"]
        key_name = f"media/{media_id}/original.mp4"
        assert key_name in bucket_keys(s3_endpoint, bucket)
        assert incomplete_uploads(s3_endpoint, bucket) == []
        print(f"API peak RSS growth during a {PADDING // MIB} MiB upload to S3: {growth:.1f} MiB")
        assert growth < RSS_BOUND_MIB, f"peak RSS grew by {growth:.1f} MiB"
        assert not [p for p in (data / "tmp").rglob("*") if p.is_file()]  # the scratch copy is gone
    finally:
        api.terminate()
        api.wait(timeout=30)


def test_unfinished_s3_upload_of_a_killed_api_is_ended_at_the_next_start(
    tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    """SIGKILL mid-upload: no cleanup runs, the multipart upload stays open in the bucket; the next
    API process ends it (untouched for longer than VSRC_UPLOAD_PART_MAX_AGE) before serving."""
    url = s3_url(bucket, s3_endpoint)
    data = tmp_path / "data"
    setup = start_server(data, storage_url=url)
    key = setup.key()
    stop_server(setup)
    env = {
        **os.environ,
        **service_env(setup.settings),
        "VSRC_LOG_LEVEL": "WARNING",
    }

    def api(**extra: str) -> tuple[subprocess.Popen[bytes], int]:
        port = free_port()
        return api_process({**env, **extra}, port, tmp_path / "api.log"), port

    client = s3_client(s3_endpoint)

    def part_dates() -> list[datetime]:
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        return [
            part["LastModified"]
            for u in uploads
            for part in client.list_parts(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"]).get(
                "Parts", []
            )
        ]

    def idle() -> bool:
        """The newest part is older than the 1 s maximum age (S3 dates have 1 s resolution)."""
        return datetime.now(UTC) - max(part_dates()) > timedelta(seconds=1)

    first, port = api()
    try:
        head = b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'
        request = (
            f"POST /api/v1/media/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: multipart/form-data; boundary=B\r\nContent-Length: {64 * MIB}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(request + head)
            for _ in range(20):
                sock.sendall(os.urandom(MIB))
            eventually(part_dates, timeout=60, what="a multipart upload with a part sent")
            first.send_signal(signal.SIGKILL)  # the request's abort never runs
            first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert incomplete_uploads(s3_endpoint, bucket) != []
    eventually(idle, timeout=60, what="the abandoned upload idle for longer than the maximum age")
    second, _ = api(VSRC_UPLOAD_PART_MAX_AGE="1")  # the first one's default age never sweeps it
    try:
        assert incomplete_uploads(s3_endpoint, bucket) == []  # ended before the first request served
        assert bucket_keys(s3_endpoint, bucket) == []
    finally:
        second.terminate()
        second.wait(timeout=30)
