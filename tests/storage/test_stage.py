"""Stages and fetches: the local files ffmpeg writes and reads, on both backends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.storage.backends import Backend, read, remote
from vsrc.errors import NotFound
from vsrc.storage.stage import RemoteStage, sweep_scratch

PLAYLIST = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg0.ts\n"


def test_a_stage_publishes_every_file_under_its_prefix(backend: Backend) -> None:
    storage = backend.storage
    with storage.stage("hls/vod_a") as stage:
        (stage.path / "720p").mkdir()
        (stage.path / "720p" / "seg0.ts").write_bytes(b"segment-0")
        (stage.path / "720p" / "index.m3u8").write_text(PLAYLIST)
        (stage.path / "master.m3u8").write_text("#EXTM3U\n720p/index.m3u8\n")
        (stage.path / "720p" / "seg1.ts.tmp").write_bytes(b"never finished")
        stage.sync()
    finished = ["hls/vod_a/720p/index.m3u8", "hls/vod_a/720p/seg0.ts", "hls/vod_a/master.m3u8"]
    if remote(backend):
        assert storage.list("hls/vod_a") == finished  # never an unfinished file
    else:
        # The stage is the stored folder itself: ffmpeg's own .tmp files come and go in it.
        assert storage.list("hls/vod_a") == sorted([*finished, "hls/vod_a/720p/seg1.ts.tmp"])
    assert read(storage, "hls/vod_a/720p/seg0.ts") == b"segment-0"


def test_a_fresh_stage_never_mixes_with_a_previous_attempt(backend: Backend) -> None:
    storage = backend.storage
    storage.put_bytes("hls/vod_b/old/seg9.ts", b"dead attempt")
    with storage.stage("hls/vod_b") as stage:
        (stage.path / "seg0.ts").write_bytes(b"new")
    assert storage.list("hls/vod_b") == ["hls/vod_b/seg0.ts"]
    with storage.stage("hls/vod_b", fresh=False) as stage:
        (stage.path / "seg1.ts").write_bytes(b"more")
    assert storage.list("hls/vod_b") == ["hls/vod_b/seg0.ts", "hls/vod_b/seg1.ts"]


def test_an_exception_publishes_nothing_more(backend: Backend) -> None:
    storage = backend.storage
    with pytest.raises(RuntimeError), storage.stage("hls/vod_c") as stage:
        (stage.path / "seg0.ts").write_bytes(b"x")
        raise RuntimeError("ffmpeg died")
    if remote(backend):
        assert storage.list("hls/vod_c") == []
        assert not stage.path.exists()  # the scratch folder is gone too


def test_fetch_gives_a_local_file_with_the_bytes(backend: Backend, tmp_path: Path) -> None:
    storage = backend.storage
    data = os.urandom(300_000)
    storage.put_bytes("sources/vod_d/original.mp4", data)
    with storage.fetch("sources/vod_d/original.mp4") as path:
        assert path.read_bytes() == data
    with pytest.raises(NotFound), storage.fetch("sources/vod_d/missing.mp4"):
        pass
    if remote(backend):
        assert not path.exists()  # the scratch download is removed


class Recorder:
    """A publisher that records the order of uploads and deletes (and keeps the bytes)."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def upload(self, key: str, source: Path) -> None:
        self.events.append(f"put {key}")

    def delete_keys(self, keys: object) -> None:
        self.events.extend(f"delete {k}" for k in keys)  # type: ignore[attr-defined]


def test_sync_publishes_segments_before_the_playlist_that_names_them(tmp_path: Path) -> None:
    recorder = Recorder()
    stage = RemoteStage(tmp_path, "hls/live_a", recorder)
    (tmp_path / "seg0.ts").write_bytes(b"0")
    (tmp_path / "seg1.ts").write_bytes(b"1 (ffmpeg still writing it)")
    (tmp_path / "index.m3u8").write_text(PLAYLIST)
    stage.sync()
    assert recorder.events == ["put hls/live_a/seg0.ts", "put hls/live_a/index.m3u8"]

    recorder.events.clear()
    stage.sync()
    assert recorder.events == []  # nothing changed: nothing uploaded again

    # The window slides on: seg1 is listed, seg0 removed.
    (tmp_path / "seg0.ts").unlink()
    (tmp_path / "index.m3u8").write_text(PLAYLIST.replace("seg0", "seg1") + "\n")
    stage.sync()
    assert recorder.events == [
        "put hls/live_a/seg1.ts",
        "put hls/live_a/index.m3u8",
        "delete hls/live_a/seg0.ts",
    ]


class RacingWriter(Recorder):
    """A live ffmpeg that closes seg1 and rewrites the playlist while seg0 is being uploaded."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self.playlists: list[bytes] = []

    def upload(self, key: str, source: Path) -> None:
        super().upload(key, source)
        if key.endswith(".m3u8"):
            self.playlists.append(source.read_bytes())
        if key.endswith("seg0.ts") and not (self.folder / "seg1.ts").exists():
            (self.folder / "seg1.ts").write_bytes(b"1")
            (self.folder / "index.m3u8").write_text(PLAYLIST + "#EXTINF:2.0,\nseg1.ts\n")


def test_a_playlist_rewritten_during_a_sync_never_names_an_unpublished_segment(tmp_path: Path) -> None:
    writer = RacingWriter(tmp_path)
    stage = RemoteStage(tmp_path, "hls/live_r", writer)
    (tmp_path / "seg0.ts").write_bytes(b"0")
    (tmp_path / "index.m3u8").write_text(PLAYLIST)
    stage.sync()
    # The playlist published is the one read before its segments were uploaded.
    assert writer.events == ["put hls/live_r/seg0.ts", "put hls/live_r/index.m3u8"]
    assert writer.playlists == [PLAYLIST.encode()]
    stage.sync()
    assert writer.events[2:] == ["put hls/live_r/seg1.ts", "put hls/live_r/index.m3u8"]
    assert writer.playlists[1].endswith(b"seg1.ts\n")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no snapshot left


def test_variant_playlists_are_published_before_the_master(tmp_path: Path) -> None:
    recorder = Recorder()
    stage = RemoteStage(tmp_path, "hls/vod_e", recorder)
    (tmp_path / "a").mkdir()
    (tmp_path / "master.m3u8").write_text("#EXTM3U\na/index.m3u8\n")
    (tmp_path / "a" / "index.m3u8").write_text(PLAYLIST)
    (tmp_path / "a" / "seg0.ts").write_bytes(b"0")
    stage.sync()
    assert recorder.events == [
        "put hls/vod_e/a/seg0.ts",
        "put hls/vod_e/a/index.m3u8",
        "put hls/vod_e/master.m3u8",
    ]


def test_scratch_of_dead_processes_is_swept(tmp_path: Path) -> None:
    mine = tmp_path / f"{os.getpid()}-stage-1"
    mine.mkdir()
    # A pid above the kernel's maximum never runs.
    dead = tmp_path / "99999999-stage-2"
    (dead / "720p").mkdir(parents=True)
    (dead / "720p" / "seg0.ts").write_bytes(b"x")
    assert sweep_scratch(tmp_path) == 1
    assert mine.exists() and not dead.exists()
