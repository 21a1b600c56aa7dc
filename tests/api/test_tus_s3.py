"""Direct (tus) uploads on S3 stream into the bucket and resume on any API process: two API processes
(each its own data folder, no shared disk) on one database and one bucket, as in a fleet.

- bytes go into an S3 multipart upload of the media item's original while the upload runs; no partial
  file exists on any API disk;
- a PATCH cut mid-part resumes, through the OTHER API process, at the offset HEAD reports; the item is
  stored whole and encodes;
- two PATCHes of one upload through two processes: the second gets 423 while the first writes;
- the storage's sweep of abandoned multipart uploads leaves a paused tus upload alone.
"""

from __future__ import annotations

import hashlib
import io
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from tusclient.client import TusClient

from tests.api.tus_helpers import (
    TUS,
    create_upload,
    get_upload,
    open_patch,
    tus_create,
    tus_offset,
    tus_patch,
    upload_row,
)
from tests.conftest import (
    Server,
    free_port,
    make_clip,
    start_server,
    start_worker,
    stop_server,
    stop_worker,
    wait_for_status,
)
from tests.helpers import eventually
from tests.s3 import bucket_keys, incomplete_uploads, s3_client, s3_url
from vsrc.db.models import DirectUpload

pytestmark = pytest.mark.slow  # two API servers, tens of MiB through moto

MIB = 1024**2


def padded(clip: bytes, total: int) -> bytes:
    """The clip followed by a top-level MP4 ``free`` box (padding demuxers skip) up to ``total``."""
    pad = total - len(clip)
    return clip + struct.pack(">I4s", pad, b"free") + b"\0" * (pad - 8)


@contextmanager
def two_apis(tmp_path: Path, storage_url: str, **b_settings: Any) -> Iterator[tuple[Server, Server]]:
    """API A and API B: one database, Redis and bucket, separate data folders (no shared disk).
    ``b_settings``: B's own settings on top (e.g. a faster sweep)."""
    port_a, port_b = free_port(), free_port()
    a = start_server(
        tmp_path / "a", port=port_a, public_url=f"http://127.0.0.1:{port_a}", storage_url=storage_url
    )
    try:
        b = start_server(
            tmp_path / "b",
            port=port_b,
            public_url=f"http://127.0.0.1:{port_b}",
            storage_url=storage_url,
            database_url=a.settings.sqlalchemy_url,
            redis_url=a.settings.redis_url,
            **b_settings,
        )
        try:
            yield a, b
        finally:
            stop_server(b)
    finally:
        stop_server(a)


@pytest.fixture
def fleet(tmp_path: Path, s3_endpoint: str, bucket: str) -> Iterator[tuple[Server, Server]]:
    with two_apis(tmp_path, s3_url(bucket, s3_endpoint)) as apis:
        yield apis


def on(server: Server, url: str) -> str:
    """The same upload URL, sent to ``server`` (a load balancer's choice)."""
    return f"{server.url}/tus/{url.rsplit('/', 1)[1]}"


def local_files(*servers: Server) -> list[Path]:
    return [p for s in servers for p in (s.settings.tmp_dir).rglob("*") if p.is_file()]


def parts_of(endpoint: str, bucket: str, key: str) -> list[int]:
    client = s3_client(endpoint)
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    (upload,) = [u for u in uploads if u["Key"] == key]
    listed = client.list_parts(Bucket=bucket, Key=key, UploadId=upload["UploadId"]).get("Parts", [])
    return [part["Size"] for part in listed]


def untouched_for(endpoint: str, bucket: str) -> timedelta:
    """Since the newest start or part of any unfinished multipart upload (S3 dates: 1 s resolution)."""
    client = s3_client(endpoint)
    dates = []
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        dates.append(upload["Initiated"])
        parts = client.list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        dates += [part["LastModified"] for part in parts.get("Parts", [])]
    return datetime.now(UTC) - max(dates)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = make_clip(tmp_path_factory.mktemp("tuss3") / "talk.mp4", seconds=2, size="320x240", rate=25)
    return path.read_bytes()


def test_bytes_stream_into_a_multipart_upload_with_no_partial_file(
    fleet: tuple[Server, Server], s3_endpoint: str, bucket: str
) -> None:
    a, _ = fleet
    write, read = a.account_keys()
    upload = create_upload(a, write)
    url = upload["uploadUrl"]
    assert tus_create(url, 20 * MIB, **{"Upload-Metadata": "filename YS5tcDQ="}).status_code == 201
    source = upload_row(a, upload["uploadId"]).source_key
    assert source is not None and source.startswith("media/vod_") and source.endswith("/original.mp4")
    assert incomplete_uploads(s3_endpoint, bucket) == [source]  # begun at creation

    assert tus_patch(url, 0, b"x" * (9 * MIB)).status_code == 204
    assert parts_of(s3_endpoint, bucket, source) == [8 * MIB]  # one whole part sent
    tails = [k for k in bucket_keys(s3_endpoint, bucket) if k.startswith(f"tus/{upload['uploadId']}/")]
    assert len(tails) == 1  # the loose MiB past the part, in the bucket
    assert tus_offset(url) == 9 * MIB
    assert get_upload(a, read, upload["uploadId"])["offset"] == 9 * MIB
    assert local_files(a) == []  # nothing of it on the API's disk
    assert not [k for k in bucket_keys(s3_endpoint, bucket) if k.startswith("media/")]  # not yet an object


def test_a_patch_cut_mid_part_resumes_on_another_api_and_the_item_encodes(
    fleet: tuple[Server, Server], s3_endpoint: str, bucket: str, clip: bytes, tmp_path: Path
) -> None:
    a, b = fleet
    write, read = a.account_keys()
    data = padded(clip, 12 * MIB)
    upload = create_upload(a, write, title="moved")
    url = upload["uploadUrl"]
    assert tus_create(url, len(data), **{"Upload-Metadata": "filename YS5tcDQ="}).status_code == 201

    # API A receives 9 MiB of a 12 MiB PATCH, then the client's connection dies.
    sent = 9 * MIB + 12345
    sock = open_patch(url, 0, declared=len(data), first=data[:sent])
    try:
        # A stalled body's loose bytes are written to the tail object: HEAD, on EITHER API, says so.
        eventually(lambda: tus_offset(on(b, url)) == sent, timeout=60, what="the cut PATCH's bytes kept")
    finally:
        sock.close()
    assert tus_offset(url) == sent

    eventually(lambda: upload_row(a, upload["uploadId"]).lease_holder is None, what="A's request ended")

    # A new client asks API B where to resume and sends the rest there.
    resumer = TusClient(on(b, url)).uploader(file_stream=io.BytesIO(data), chunk_size=MIB, url=on(b, url))
    assert resumer.offset == sent
    resumer.upload()
    done = get_upload(b, read, upload["uploadId"])
    assert done["status"] == "completed" and done["offset"] == len(data)
    key = f"media/{done['mediaId']}/original.mp4"
    assert key == upload_row(a, upload["uploadId"]).source_key  # the key chosen at creation
    stored = b"".join(b.runtime.storage.read_range(key))
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest()
    assert incomplete_uploads(s3_endpoint, bucket) == []
    assert not [k for k in bucket_keys(s3_endpoint, bucket) if k.startswith("tus/")]  # tails gone
    assert local_files(a, b) == []

    # B enqueued the encode: its queue (SQLite here; Redis, shared by all, in a fleet).
    worker = start_worker(b.settings, log_path=tmp_path / "worker.log")
    try:
        media, _ = wait_for_status(a, read, done["mediaId"], timeout=240)
    finally:
        stop_worker(worker)
    assert media["encodingStatus"] == "completed", media
    with b.client(read) as client:
        assert "#EXT-X-STREAM-INF" in client.get(f"/hls/{done['mediaId']}/master.m3u8").text


def test_two_apis_writing_one_upload_the_second_gets_423(fleet: tuple[Server, Server]) -> None:
    a, b = fleet
    write, _ = a.account_keys()
    upload = create_upload(a, write)
    url = upload["uploadUrl"]
    assert tus_create(url, 1000).status_code == 201
    sock = open_patch(url, 0, declared=1000, first=b"a" * 100)  # A holds the upload while it reads
    try:
        eventually(lambda: upload_row(a, upload["uploadId"]).lease_holder, what="A's lease taken")
        resp = tus_patch(on(b, url), 0, b"b" * 10)
        assert resp.status_code == 423, resp.text
        assert resp.json()["success"] is False
    finally:
        sock.close()
    # A's request ended (keeping its 100 bytes) and released the lease: B may continue.
    eventually(lambda: upload_row(a, upload["uploadId"]).lease_holder is None, what="A's lease released")
    assert tus_offset(on(b, url)) == 100
    resp = tus_patch(on(b, url), 100, b"c" * 900)
    assert resp.status_code == 415, resp.text  # the last byte: not a video
    assert httpx.head(url, headers=TUS).status_code == 410


def test_the_sweep_of_abandoned_multipart_uploads_keeps_a_paused_tus_upload(
    tmp_path: Path, s3_endpoint: str, bucket: str, clip: bytes
) -> None:
    url = s3_url(bucket, s3_endpoint)
    port = free_port()
    a = start_server(tmp_path / "a", port=port, public_url=f"http://127.0.0.1:{port}", storage_url=url)
    try:
        write, read = a.account_keys()
        data = padded(clip, 10 * MIB)
        upload = create_upload(a, write)
        tus_url = upload["uploadUrl"]
        assert tus_create(tus_url, len(data)).status_code == 201
        assert tus_patch(tus_url, 0, data[: 9 * MIB]).status_code == 204  # one part, then a pause
        source = upload_row(a, upload["uploadId"]).source_key
        # A multipart upload nobody records: what a killed process leaves.
        client = s3_client(s3_endpoint)
        client.create_multipart_upload(Bucket=bucket, Key="media/vod_dead/original.mp4")
        assert incomplete_uploads(s3_endpoint, bucket) == sorted([source, "media/vod_dead/original.mp4"])
    finally:
        stop_server(a)
    eventually(lambda: untouched_for(s3_endpoint, bucket) > timedelta(seconds=1.5), what="both idle")
    # A second API process, whose start-up sweep ends every multipart upload untouched for 1 s... but
    # the paused tus upload, which lives until it expires.
    port = free_port()
    b = start_server(
        tmp_path / "b",
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        storage_url=url,
        database_url=a.settings.sqlalchemy_url,
        upload_part_max_age=1,
    )
    try:
        assert incomplete_uploads(s3_endpoint, bucket) == [source]  # swept before serving
        assert tus_patch(on(b, tus_url), 9 * MIB, data[9 * MIB :]).status_code == 204
        assert get_upload(b, read, upload["uploadId"])["status"] == "completed"
        assert incomplete_uploads(s3_endpoint, bucket) == []
    finally:
        stop_server(b)


def test_an_upload_begun_on_local_storage_is_410_after_the_move_to_s3(
    tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    """Its bytes are in a partial file on one machine's disk, not in the bucket: the client is told to
    start again rather than given a 500."""
    port = free_port()
    local = start_server(tmp_path / "a", port=port, public_url=f"http://127.0.0.1:{port}")
    try:
        write, _ = local.account_keys()
        upload = create_upload(local, write)
        assert tus_create(upload["uploadUrl"], 1000).status_code == 201
        assert tus_patch(upload["uploadUrl"], 0, b"a" * 10).status_code == 204
    finally:
        stop_server(local)
    port = free_port()
    moved = start_server(
        tmp_path / "b",
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        storage_url=s3_url(bucket, s3_endpoint),
        database_url=local.settings.sqlalchemy_url,
    )
    try:
        resp = tus_patch(on(moved, upload["uploadUrl"]), 10, b"b" * 10)
        assert resp.status_code == 410, resp.text
        assert incomplete_uploads(s3_endpoint, bucket) == []
    finally:
        stop_server(moved)


def test_any_api_expires_an_upload_and_frees_its_parts_and_tail(
    tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    # A sweeps only every 5 minutes: B does it.
    with two_apis(tmp_path, s3_url(bucket, s3_endpoint), upload_sweep_seconds=0.2) as (a, _swept_by_b):
        write, read = a.account_keys()
        upload = create_upload(a, write)
        assert tus_create(upload["uploadUrl"], 20 * MIB).status_code == 201
        assert tus_patch(upload["uploadUrl"], 0, b"x" * (9 * MIB)).status_code == 204  # a part and a tail
        assert incomplete_uploads(s3_endpoint, bucket) and bucket_keys(s3_endpoint, bucket, "tus/")
        with a.sessions() as session, session.begin():
            session.execute(
                update(DirectUpload)
                .where(DirectUpload.public_id == upload["uploadId"])
                .values(expires_at=datetime(2020, 1, 1))
            )
        eventually(lambda: upload_row(a, upload["uploadId"]).status == "expired", what="B's sweep expired it")
        # The row first, then its multipart upload and tail go (the sweep frees after recording).
        eventually(
            lambda: incomplete_uploads(s3_endpoint, bucket) == [] and bucket_keys(s3_endpoint, bucket) == [],
            what="the expired upload's parts and tail freed",
        )
        assert get_upload(a, read, upload["uploadId"])["status"] == "expired"
