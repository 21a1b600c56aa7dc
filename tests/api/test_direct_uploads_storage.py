"""Direct (tus) uploads on both storage backends (local folder, S3 on a real S3 protocol server): a
completed upload is stored whole; a cancelled, expired or refused one leaves no object, no unfinished
multipart upload and no partial file behind."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from tests.api.test_upload_storage import stored
from tests.api.tus_helpers import (
    TUS,
    create_upload,
    get_upload,
    open_patch,
    tus_create,
    tus_offset,
    tus_patch,
)
from tests.conftest import Server, free_port, start_server, stop_server
from tests.helpers import eventually
from vsrc.db.models import DirectUpload

MIB = 1024**2
OCTET = {"Content-Type": "application/offset+octet-stream"}


@pytest.fixture
def tus_server(tmp_path: Path, storage_url: str | None) -> Iterator[Server]:
    port = free_port()
    extra = {"storage_url": storage_url} if storage_url else {}
    srv = start_server(
        tmp_path / "data", port=port, public_url=f"http://127.0.0.1:{port}", upload_sweep_seconds=0.2, **extra
    )
    yield srv
    stop_server(srv)


def started(server: Server, key: str, length: int, **body: object) -> dict:
    upload = create_upload(server, key, **body)
    assert (
        tus_create(upload["uploadUrl"], length, **{"Upload-Metadata": "filename Y2xpcC5tcDQ="}).status_code
        == 201
    )
    return upload


def test_resumed_upload_is_stored_whole(tus_server: Server, clips: dict[str, Path]) -> None:
    """Three requests, one of them cut mid-body: the stored original is the clip, byte for byte."""
    write, read = tus_server.account_keys()
    data = clips["mp4"].read_bytes()
    upload = started(tus_server, write, len(data))
    url = upload["uploadUrl"]
    third = len(data) // 3
    assert tus_patch(url, 0, data[:third]).status_code == 204
    sock = open_patch(url, third, len(data) - third, data[third : 2 * third])
    try:
        eventually(lambda: tus_offset(url) == 2 * third, what="the bytes sent so far received")
    finally:
        sock.close()  # the client drops mid-request
    eventually(
        lambda: tus_patch(url, 2 * third, data[2 * third :]).status_code == 204, what="the cut PATCH ended"
    )
    done = get_upload(tus_server, read, upload["uploadId"])
    assert done["status"] == "completed"
    key = f"media/{done['mediaId']}/original.mp4"
    assert [k for k in stored(tus_server) if not k.endswith("/")] == [key]
    assert b"".join(tus_server.runtime.storage.read_range(key)) == data


def test_not_a_video_fails_and_leaves_nothing(tus_server: Server) -> None:
    write, read = tus_server.account_keys()
    before = stored(tus_server)
    noise = os.urandom(9 * MIB)
    upload = started(tus_server, write, len(noise))
    resp = tus_patch(upload["uploadUrl"], 0, noise)
    assert resp.status_code == 415, resp.text
    assert get_upload(tus_server, read, upload["uploadId"])["status"] == "failed"
    assert stored(tus_server) == before


def test_cancelled_upload_leaves_nothing(tus_server: Server) -> None:
    write, read = tus_server.account_keys()
    before = stored(tus_server)
    upload = started(tus_server, write, 20 * MIB)
    assert tus_patch(upload["uploadUrl"], 0, os.urandom(9 * MIB)).status_code == 204
    assert httpx.delete(upload["uploadUrl"], headers=TUS).status_code == 204
    assert get_upload(tus_server, read, upload["uploadId"])["status"] == "cancelled"
    assert stored(tus_server) == before


def test_expired_upload_is_swept_and_leaves_nothing(tus_server: Server) -> None:
    write, read = tus_server.account_keys()
    before = stored(tus_server)
    upload = started(tus_server, write, 20 * MIB)
    assert tus_patch(upload["uploadUrl"], 0, os.urandom(9 * MIB)).status_code == 204
    with tus_server.sessions() as session, session.begin():
        session.execute(
            update(DirectUpload)
            .where(DirectUpload.public_id == upload["uploadId"])
            .values(expires_at=dt.datetime(2020, 1, 1))
        )
    eventually(lambda: stored(tus_server) == before, timeout=30, what="the expired upload swept")
    assert get_upload(tus_server, read, upload["uploadId"])["status"] == "expired"


def test_a_new_patch_takes_over_from_a_stale_one(tus_server: Server) -> None:
    """The client's retry in the same process stops its own half-open PATCH (which keeps its bytes)."""
    write, _ = tus_server.account_keys()
    upload = started(tus_server, write, 1000)
    url = upload["uploadUrl"]
    stale = open_patch(url, 0, declared=1000, first=b"q" * 100)  # half-open: never sends the rest
    try:
        eventually(lambda: tus_offset(url) == 100, what="the stale PATCH's bytes kept")
        resp = tus_patch(url, 100, b"s" * 10)  # the client's retry, resuming from HEAD
        assert resp.status_code == 204, resp.text
        assert resp.headers["upload-offset"] == "110"
    finally:
        stale.close()
    assert tus_offset(url) == 110


def test_a_body_past_the_length_is_413_and_keeps_the_offset(tus_server: Server) -> None:
    write, _ = tus_server.account_keys()
    upload = started(tus_server, write, 100)
    url = upload["uploadUrl"]
    assert tus_patch(url, 0, b"a" * 60).status_code == 204

    def chunked() -> Iterator[bytes]:  # no Content-Length: cut off while streaming
        yield b"c" * 30
        yield b"d" * 30

    resp = httpx.patch(url, content=chunked(), headers={**TUS, **OCTET, "Upload-Offset": "60"})
    assert resp.status_code == 413
    assert tus_offset(url) == 60
    assert tus_patch(url, 60, b"b" * 40).status_code == 415  # complete: 100 bytes, not a video


def test_an_empty_upload_fails_at_creation_and_leaves_nothing(tus_server: Server) -> None:
    write, read = tus_server.account_keys()
    before = stored(tus_server)
    upload = create_upload(tus_server, write)
    assert tus_create(upload["uploadUrl"], 0).status_code == 415
    shown = get_upload(tus_server, read, upload["uploadId"])
    assert shown["status"] == "failed" and "Unsupported media" in shown["errorMessage"]
    assert stored(tus_server) == before
