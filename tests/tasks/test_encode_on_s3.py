"""The encode pipeline on S3 storage (a real S3 protocol server): the worker reads the source in place
(a presigned URL) and publishes every segment as ffmpeg closes it, playlists after their segments."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import m3u8
import pytest

from tests.conftest import (
    Server,
    make_clip,
    start_server,
    start_worker,
    stop_server,
    stop_worker,
    upload_file,
    wait_for_status,
)
from tests.helpers import eventually
from tests.s3 import bucket_keys, incomplete_uploads, s3_client, s3_url
from tests.tasks.test_encode_pipeline import check_hls, ffmpeg_running
from tests.tcp_cut import Cut, CuttingProxy
from vsrc.errors import NotFound

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, module_s3_url: str) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("enc-s3"), storage_url=module_s3_url)
    worker = start_worker(srv.settings)
    yield srv
    stop_worker(worker)
    stop_server(srv)


def keys(server: Server, prefix: str) -> list[str]:
    return server.runtime.storage.list(prefix)


def download(server: Server, prefix: str, dest: Path) -> Path:
    """Copy every object under ``prefix`` into ``dest`` (same relative names)."""
    storage = server.runtime.storage
    for key in storage.list(prefix):
        target = dest / key.removeprefix(prefix + "/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"".join(storage.read_range(key)))
    return dest


def read_text(server: Server, key: str) -> str:
    return b"".join(server.runtime.storage.read_range(key)).decode()


def media_files_on_disk(server: Server) -> list[Path]:
    """Media files in the data dir outside the scratch area (there must be none on S3)."""
    root = server.settings.data_dir
    return [p for p in root.rglob("*") if p.is_file() and p.suffix in (".ts", ".m3u8", ".jpg", ".mp4")]


def test_ladder_lands_in_the_bucket_and_plays(stack: Server, tmp_path: Path) -> None:
    write, _ = stack.account_keys()
    clip = make_clip(tmp_path / "landscape.mp4", seconds=5, size="640x360", rate=30)
    media_id = upload_file(stack, write, clip)
    data, _ = wait_for_status(stack, write, media_id)
    assert data["encodingStatus"] == "completed", data
    local = download(stack, f"hls/{media_id}", tmp_path / "hls")
    assert check_hls(local, fps=30, seconds=5, audio=True) == [(640, 360), (426, 240)]
    assert keys(stack, f"thumbnails/{media_id}") == [
        f"thumbnails/{media_id}/poster.jpg",
        f"thumbnails/{media_id}/storyboard.jpg",
        f"thumbnails/{media_id}/storyboard.vtt",
    ]
    assert read_text(stack, f"thumbnails/{media_id}/storyboard.vtt").startswith("WEBVTT")
    assert media_files_on_disk(stack) == []  # nothing but the database and the queue stays local


def test_delete_removes_every_object(stack: Server, tmp_path: Path) -> None:
    write, _ = stack.account_keys()
    media_id = upload_file(stack, write, make_clip(tmp_path / "short.mp4", seconds=2))
    assert wait_for_status(stack, write, media_id)[0]["encodingStatus"] == "completed"
    assert keys(stack, f"hls/{media_id}") and keys(stack, f"media/{media_id}")
    with stack.client(write) as client:
        assert client.delete(f"/api/v1/media/{media_id}").status_code == 200
    for area in ("media", "hls", "thumbnails"):
        assert keys(stack, f"{area}/{media_id}") == []


@pytest.mark.timeout(900)  # two veryslow encodes of 20 s: long on a loaded machine
def test_playable_early_and_a_retry_never_mixes_attempts(tmp_path: Path, module_s3_url: str) -> None:
    srv = start_server(tmp_path / "data", storage_url=module_s3_url)
    try:
        write, _ = srv.account_keys()
        with srv.client(write) as client:
            slow = client.post(
                "/api/v1/encoding-profiles",
                json={
                    "name": "slow",
                    "rungs": [{"height": 360, "videoBitrate": 800_000}],
                    "preset": "veryslow",
                },
            ).json()["data"]["id"]
        clip = make_clip(tmp_path / "long.mp4", seconds=20, size="640x360", rate=30)
        media_id = upload_file(srv, write, clip, encodingProfileId=str(slow))
        env = {"VSRC_ENCODE_STALE_SECONDS": "2"}
        worker = start_worker(srv.settings, **env)
        playlist_key = f"hls/{media_id}/360p/index.m3u8"

        def listed_segments() -> list[str] | None:
            try:
                rung = m3u8.loads(read_text(srv, playlist_key))
            except NotFound:
                return None
            return [s.uri for s in rung.segments] or None

        first = eventually(listed_segments, timeout=120, what="the first 360p segment in the bucket")
        rung = m3u8.loads(read_text(srv, playlist_key))
        assert rung.playlist_type == "event" and not rung.is_endlist
        # Published in order: every segment a playlist in the bucket lists is in the bucket.
        assert all(f"hls/{media_id}/360p/{uri}" in keys(srv, f"hls/{media_id}") for uri in first)
        assert f"hls/{media_id}/master.m3u8" in keys(srv, f"hls/{media_id}")

        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        eventually(lambda: not ffmpeg_running(media_id), timeout=15, what="ffmpeg gone with its worker")
        scratch = srv.settings.scratch_dir
        assert any(scratch.iterdir())  # the dead worker's stage is still there …
        worker = start_worker(srv.settings, **env)
        try:
            data, _ = wait_for_status(srv, write, media_id, timeout=600)
        finally:
            stop_worker(worker)
        assert not any(scratch.iterdir())  # … until the next worker sweeps it
        assert data["encodingStatus"] == "completed", data
        rung = m3u8.loads(read_text(srv, playlist_key))
        assert rung.is_endlist and round(sum(s.duration for s in rung.segments)) == 20
        listed = {f"hls/{media_id}/360p/{s.uri}" for s in rung.segments}
        stored = {k for k in keys(srv, f"hls/{media_id}/360p") if k.endswith(".ts")}
        assert stored == listed  # no segment of the killed attempt is mixed in
    finally:
        stop_server(srv)


def _behind_proxy(tmp_path: Path, s3_endpoint: str, bucket: str) -> tuple[CuttingProxy, Server]:
    """A platform whose S3 traffic (the worker's presigned source reads too) goes through a proxy."""
    proxy = CuttingProxy(int(s3_endpoint.rsplit(":", 1)[1]))
    return proxy, start_server(tmp_path / "data", storage_url=s3_url(bucket, proxy.endpoint))


def _big_clip(tmp_path: Path) -> Path:
    # ~4 MB, index first: ffmpeg reads it from the start, with one GET.
    extra = ["-crf", "10", "-movflags", "+faststart"]
    return make_clip(tmp_path / "big.mp4", seconds=8, size="640x360", rate=30, extra=extra)


@pytest.mark.timeout(900)
def test_a_source_read_dropped_midway_resumes_where_it_stopped(
    tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    """The connection ffmpeg reads the source on drops (an S3 server restarted, a network hiccup):
    ffmpeg reconnects with a range request from where it stopped and the item completes intact."""
    proxy, srv = _behind_proxy(tmp_path, s3_endpoint, bucket)
    try:
        write, _ = srv.account_keys()
        media_id = upload_file(srv, write, _big_clip(tmp_path))
        source = f"/media/{media_id}/original.mp4?X-Amz-"  # presigned reads: ffmpeg's
        proxy.cut = Cut(source, after=2_000_000)
        worker = start_worker(srv.settings)
        try:
            data, _ = wait_for_status(srv, write, media_id, timeout=600)
        finally:
            stop_worker(worker)
        assert data["encodingStatus"] == "completed", data
        assert proxy.cut.done.is_set()
        assert proxy.gets(source) >= 2  # ffmpeg's, and ffmpeg's again from where it was dropped
        local = download(srv, f"hls/{media_id}", tmp_path / "hls")
        assert check_hls(local, fps=30, seconds=8, audio=True) == [(640, 360), (426, 240)]
    finally:
        stop_server(srv)
        proxy.stop()


@pytest.mark.timeout(900)
def test_a_source_deleted_mid_encode_fails_the_item_cleanly(
    tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    """The source object disappears while ffmpeg reads it (its connection drops, the reconnect gets a
    404): the attempt fails, the retry finds no source, and the item fails for good with a clear
    message and nothing of it in the bucket but what the API stored."""
    proxy, srv = _behind_proxy(tmp_path, s3_endpoint, bucket)
    try:
        write, _ = srv.account_keys()
        media_id = upload_file(srv, write, _big_clip(tmp_path))
        key = f"media/{media_id}/original.mp4"
        assert bucket_keys(s3_endpoint, bucket, f"media/{media_id}") == [key]

        def delete_source() -> None:
            s3_client(s3_endpoint).delete_object(Bucket=bucket, Key=key)

        proxy.cut = Cut(f"/{key}?X-Amz-", after=2_000_000, before=delete_source)
        worker = start_worker(srv.settings)
        try:
            data, _ = wait_for_status(srv, write, media_id, timeout=600)
        finally:
            stop_worker(worker)
        assert proxy.cut.done.is_set()
        assert data["encodingStatus"] == "failed", data
        assert data["errorMessage"] == "Encoding failed: the uploaded source is missing from storage"
        assert bucket_keys(s3_endpoint, bucket, f"hls/{media_id}") == []
        assert bucket_keys(s3_endpoint, bucket, f"thumbnails/{media_id}") == []
        assert incomplete_uploads(s3_endpoint, bucket) == []
    finally:
        stop_server(srv)
        proxy.stop()
