"""One storage contract, two backends: the local folder and S3 on a real S3 protocol server (moto)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.storage.backends import PART, Backend, read
from vsrc.errors import NotFound, StorageError
from vsrc.storage.s3 import S3Storage


def test_put_file_consumes_the_source_and_round_trips(backend: Backend, tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    data = os.urandom(PART + 12345)  # multipart on S3 (over the threshold)
    source.write_bytes(data)
    backend.storage.put_file("media/vod_a/original.mp4", source)
    assert not source.exists()
    assert backend.storage.exists("media/vod_a/original.mp4")
    assert backend.storage.size("media/vod_a/original.mp4") == len(data)
    assert read(backend.storage, "media/vod_a/original.mp4") == data


def test_ranges(backend: Backend) -> None:
    data = bytes(range(256)) * 40
    backend.storage.put_bytes("hls/vod_a/seg_00001.ts", data)
    key = "hls/vod_a/seg_00001.ts"
    assert read(backend.storage, key, 0, 1) == data[:1]
    assert read(backend.storage, key, 100, 4100) == data[100:4100]
    assert read(backend.storage, key, 9000) == data[9000:]
    assert read(backend.storage, key, 10000, 20000) == data[10000:]  # stop past the end is clamped
    assert read(backend.storage, key, len(data)) == b""
    with pytest.raises(StorageError):
        read(backend.storage, key, len(data) + 1)
    with pytest.raises(NotFound):
        read(backend.storage, "hls/vod_a/missing.ts")
    with pytest.raises(NotFound):
        backend.storage.size("hls/vod_a/missing.ts")
    assert not backend.storage.exists("hls/vod_a/missing.ts")


def test_delete_prefix_removes_everything_and_only_that_prefix(backend: Backend) -> None:
    storage = backend.storage
    keys = [f"hls/vod_a/{rung}/seg_{i:05d}.ts" for rung in ("360p", "720p") for i in range(3)]
    for key in [*keys, "hls/vod_a/master.m3u8", "hls/vod_ab/master.m3u8", "hls/vod/master.m3u8"]:
        storage.put_bytes(key, b"x")
    assert storage.list("hls/vod_a") == sorted([*keys, "hls/vod_a/master.m3u8"])
    assert storage.delete_prefix("hls/vod_a") == 7
    assert storage.list("hls/vod_a") == []
    assert not storage.exists("hls/vod_a/720p/seg_00002.ts")
    # Neighbours sharing the name's beginning are other items: untouched.
    assert storage.list("hls") == ["hls/vod/master.m3u8", "hls/vod_ab/master.m3u8"]
    assert storage.delete_prefix("hls/vod_a") == 0
    with pytest.raises(StorageError):
        storage.delete_prefix("")


@pytest.mark.parametrize("key", ["../outside", "media/../../outside", "/etc/passwd"])
def test_keys_cannot_escape(backend: Backend, key: str) -> None:
    with pytest.raises(StorageError):
        backend.storage.put_bytes(key, b"x")
    with pytest.raises(StorageError):
        backend.storage.exists(key)
    with pytest.raises(StorageError):
        backend.storage.delete_prefix(key)
    assert backend.leftovers() == []


def test_streaming_write_in_parts(backend: Backend) -> None:
    chunks = [os.urandom(1024**2) for _ in range(11)]  # 11 MiB: two full parts and a last one
    with backend.storage.writer("media/vod_b/original.mp4") as out:
        for chunk in chunks:
            out.write(chunk)
    assert read(backend.storage, "media/vod_b/original.mp4") == b"".join(chunks)
    with backend.storage.writer("markers/small") as out:
        out.write(b"tiny")
    assert read(backend.storage, "markers/small") == b"tiny"


def test_aborted_streaming_write_leaves_nothing(backend: Backend) -> None:
    class ClientWentAway(Exception):
        pass

    with pytest.raises(ClientWentAway), backend.storage.writer("media/vod_c/original.mp4") as out:
        for _ in range(7):  # 7 MiB: one part already sent to S3 before the failure
            out.write(os.urandom(1024**2))
        raise ClientWentAway
    assert not backend.storage.exists("media/vod_c/original.mp4")
    assert backend.leftovers() == []


def test_delete_prefix_ends_unfinished_uploads(backend: Backend) -> None:
    """A process killed mid-upload leaves an unfinished write; deleting the item removes it too."""
    writer = backend.storage.writer("media/vod_d/original.mp4")
    out = writer.__enter__()
    out.write(os.urandom(PART + 1))
    backend.storage.delete_prefix("media/vod_d")
    if isinstance(backend.storage, S3Storage):
        assert backend.leftovers() == []
    with pytest.raises(StorageError):
        writer.__exit__(None, None, None)  # its upload is gone: completing it fails, nothing appears
    assert not backend.storage.exists("media/vod_d/original.mp4")
    assert backend.leftovers() == []


def test_local_path_only_on_local_storage(backend: Backend) -> None:
    if isinstance(backend.storage, S3Storage):
        with pytest.raises(StorageError, match="not available on S3"):
            backend.storage.local_path("media/vod_a/original.mp4")
    else:
        assert backend.storage.local_path("media/vod_a/x").name == "x"


def test_receive_keeps_a_local_copy_until_commit(backend: Backend, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    data = os.urandom(PART + 4321)  # one full part on S3 before the commit
    incoming = backend.storage.receive("media/vod_e/original.mp4", scratch)
    for start in range(0, len(data), 1024**2):
        incoming.write(data[start : start + 1024**2])
    copy = incoming.copy
    assert copy.read_bytes() == data  # checks (the probe) read the copy before the object exists
    assert not backend.storage.exists("media/vod_e/original.mp4")
    incoming.commit()
    incoming.abort()  # after commit: nothing to do
    assert read(backend.storage, "media/vod_e/original.mp4") == data
    assert not copy.exists()
    assert not scratch.exists() or list(scratch.iterdir()) == []


def test_receive_copy_holds_every_byte_written_so_far(backend: Backend, tmp_path: Path) -> None:
    """Small writes too (a file's write buffer): the probe reads the copy before the commit."""
    incoming = backend.storage.receive("media/vod_h/original.mp4", tmp_path / "scratch")
    incoming.write(b"abc")
    assert incoming.copy.read_bytes() == b"abc"
    incoming.write(b"de")
    assert incoming.copy.read_bytes() == b"abcde"
    incoming.abort()
    assert backend.leftovers() == []


def test_aborted_receive_leaves_nothing(backend: Backend, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    incoming = backend.storage.receive("media/vod_f/original.mp4", scratch)
    for _ in range(7):  # one part already sent to S3
        incoming.write(os.urandom(1024**2))
    incoming.abort()
    incoming.abort()
    assert not incoming.copy.exists()
    assert not backend.storage.exists("media/vod_f/original.mp4")
    assert backend.leftovers() == []
    assert not scratch.exists() or list(scratch.iterdir()) == []


def test_abort_unfinished_ends_only_abandoned_uploads(backend: Backend, tmp_path: Path) -> None:
    """A killed process leaves its multipart upload open on S3; the sweep ends it once it is idle."""
    incoming = backend.storage.receive("media/vod_g/original.mp4", tmp_path / "scratch")
    # Two parts: the second waits for the first to be sent (moto reports a fixed 2010 "Initiated"
    # date, so a part's own date is what shows the upload is young there).
    incoming.write(os.urandom(2 * PART + 1))
    assert backend.storage.abort_unfinished(3600) == 0  # still young: left alone
    ended = backend.storage.abort_unfinished(0)
    if isinstance(backend.storage, S3Storage):
        assert ended == 1
        assert backend.leftovers() == []
    else:
        assert ended == 0  # local uploads are scratch files, swept by the API
    incoming.abort()
    assert backend.leftovers() == []
