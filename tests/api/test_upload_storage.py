"""Multipart uploads and deletes on both storage backends (local folder, S3 on a real S3 protocol
server): the file streams into storage as it arrives, and whatever is refused, aborted or deleted
leaves no object, no unfinished multipart upload, no scratch copy and no row behind."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, start_server, stop_server
from tests.helpers import eventually
from tests.s3 import bucket_keys, incomplete_uploads
from vsrc.storage.url import S3Location

MIB = 1024**2


@pytest.fixture
def any_server(tmp_path: Path, storage_url: str | None) -> Iterator[Server]:
    """A server on local storage or on S3, with a 12 MiB upload limit (above one 8 MiB S3 part)."""
    extra = {"storage_url": storage_url} if storage_url else {}
    srv = start_server(tmp_path / "data", max_upload_bytes=12 * MIB, **extra)
    yield srv
    stop_server(srv)


def stored(server: Server) -> list[str]:
    """Every stored object (S3: and every unfinished multipart upload) and every scratch file."""
    tmp = server.settings.tmp_dir
    found = [f"scratch {p.name}" for p in tmp.rglob("*") if p.is_file()] if tmp.exists() else []
    location = server.settings.storage_location
    if isinstance(location, S3Location):
        assert location.endpoint is not None
        found += bucket_keys(location.endpoint, location.bucket)
        found += [f"unfinished {key}" for key in incomplete_uploads(location.endpoint, location.bucket)]
    else:
        root = server.settings.storage_root
        # Empty item folders too (not the areas media/, hls/…): an aborted upload must not leave the
        # folder of an item that never was.
        paths = list(root.rglob("*")) if root.exists() else []
        found += [
            p.relative_to(root).as_posix() + ("/" if p.is_dir() else "")
            for p in paths
            if p.is_file() or (p.parent != root and not any(p.iterdir()))
        ]
    return sorted(found)


def media_count(server: Server, key: str) -> int:
    with server.client(key) as client:
        return int(client.get("/api/v1/media").json()["data"]["pagination"]["total"])


def post(server: Server, key: str, data: bytes, name: str = "clip.mp4", **fields: str):  # type: ignore[no-untyped-def]
    with server.client(key) as client:
        return client.post(
            "/api/v1/media/upload", files={"file": (name, data, "video/mp4")}, data={"title": "t", **fields}
        )


def test_upload_is_stored_whole_and_nothing_else(any_server: Server, clips: dict[str, Path]) -> None:
    write, _ = any_server.account_keys()
    data = clips["mp4"].read_bytes()
    resp = post(any_server, write, data)
    assert resp.status_code == 201, resp.text
    media_id = resp.json()["data"]["mediaId"]
    key = f"media/{media_id}/original.mp4"
    assert [k for k in stored(any_server) if media_id in k] == [key]
    assert not any(k.startswith(("scratch", "unfinished")) for k in stored(any_server))
    assert b"".join(any_server.runtime.storage.read_range(key)) == data
    with any_server.client(write) as client:
        assert client.get(f"/api/v1/media/{media_id}").json()["data"]["fileSize"] == len(data)


def test_not_a_video_is_415_after_a_part_was_sent_and_leaves_nothing(any_server: Server) -> None:
    """9 MiB of noise: on S3 one 8 MiB part is uploaded before the probe refuses the file."""
    write, _ = any_server.account_keys()
    before = stored(any_server)
    resp = post(any_server, write, os.urandom(9 * MIB))
    assert resp.status_code == 415, resp.text
    assert stored(any_server) == before
    assert media_count(any_server, write) == 0


def test_bad_field_after_the_file_is_400_and_leaves_nothing(
    any_server: Server, clips: dict[str, Path]
) -> None:
    write, _ = any_server.account_keys()
    before = stored(any_server)
    resp = post(any_server, write, clips["mp4"].read_bytes(), playbackPolicy="signed", title="")
    assert resp.status_code == 400, resp.text
    resp = post(any_server, write, clips["mp4"].read_bytes(), encodingProfileId="999999")
    assert resp.status_code == 404, resp.text
    assert stored(any_server) == before
    assert media_count(any_server, write) == 0


def test_over_the_limit_while_streaming_is_413_and_leaves_nothing(any_server: Server) -> None:
    """No Content-Length: the limit (12 MiB) is found mid-body, after an S3 part was uploaded."""
    write, _ = any_server.account_keys()
    before = stored(any_server)
    boundary = "LimitBoundary"

    def body() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nbig\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()
        for _ in range(14):
            yield os.urandom(MIB)
        yield f"\r\n--{boundary}--\r\n".encode()

    with any_server.client(write) as client:
        resp = client.post(
            "/api/v1/media/upload",
            content=body(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    assert resp.status_code == 413, resp.text
    assert stored(any_server) == before
    assert media_count(any_server, write) == 0


def test_client_gone_mid_body_leaves_nothing(any_server: Server) -> None:
    """The client vanishes after 10 MiB (on S3: after the first part was uploaded)."""
    write, _ = any_server.account_keys()
    before = stored(any_server)
    host, port = any_server.url.removeprefix("http://").split(":")
    boundary = "AbortBoundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nabort\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    request = (
        f"POST /api/v1/media/upload HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {write}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {12 * MIB}\r\n\r\n"
    ).encode()

    def receiving() -> bool:
        # Local: the hidden file beside the target; S3: the multipart upload and the scratch copy.
        new = [k for k in stored(any_server) if k not in before]
        if isinstance(any_server.settings.storage_location, S3Location):
            return any(k.startswith("unfinished") for k in new)
        return any(k.endswith(".part") for k in new)

    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(request + head)
        for _ in range(10):
            sock.sendall(os.urandom(MIB))
        eventually(receiving, timeout=60, what="the server receiving the upload into storage")
    eventually(lambda: stored(any_server) == before, timeout=60, what="the partial upload removed")
    assert media_count(any_server, write) == 0


def test_delete_removes_every_object_of_the_item(any_server: Server, clips: dict[str, Path]) -> None:
    """The original, the signed-playback marker, and what an encode writes (renditions, thumbnails)."""
    write, _ = any_server.account_keys()
    resp = post(any_server, write, clips["mp4"].read_bytes(), playbackPolicy="signed")
    assert resp.status_code == 201, resp.text
    media_id = resp.json()["data"]["mediaId"]
    other = post(any_server, write, clips["mp4"].read_bytes()).json()["data"]["mediaId"]
    storage = any_server.runtime.storage
    for key in ("master.m3u8", "360p/index.m3u8", "360p/seg_00000.ts"):
        storage.put_bytes(f"hls/{media_id}/{key}", b"x")
    storage.put_bytes(f"thumbnails/{media_id}/poster.jpg", b"x")
    assert len([k for k in stored(any_server) if media_id in k]) >= 6
    with any_server.client(write) as client:
        assert client.delete(f"/api/v1/media/{media_id}").status_code == 200
    assert [k for k in stored(any_server) if media_id in k] == []
    assert [k for k in stored(any_server) if other in k] == [f"media/{other}/original.mp4"]


def test_live_delete_removes_its_live_objects(any_server: Server) -> None:
    write, _ = any_server.account_keys()
    with any_server.client(write) as client:
        live_id = client.post("/api/v1/live", json={"title": "l"}).json()["data"]["mediaId"]
        storage = any_server.runtime.storage
        for key in ("index.m3u8", "seg_00000.ts", "seg_00001.ts"):
            storage.put_bytes(f"hls/{live_id}/{key}", b"x")
        storage.put_bytes(f"thumbnails/{live_id}/poster.jpg", b"x")
        assert client.delete(f"/api/v1/live/{live_id}").status_code == 200
    assert [k for k in stored(any_server) if live_id in k] == []
