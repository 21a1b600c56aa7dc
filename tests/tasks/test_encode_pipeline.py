"""Upload → real worker → adaptive HLS, checked with m3u8 and PyAV; failures; a SIGKILLed worker."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import av
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
from vsrc.services import encoding

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("enc"))
    worker = start_worker(srv.settings)
    yield srv
    stop_worker(worker)
    stop_server(srv)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("src")
    return {
        "landscape": make_clip(root / "landscape.mp4", seconds=5, size="640x360", rate=30),
        "portrait": make_clip(root / "portrait.mp4", seconds=3, size="360x640", rate=25),
        "noaudio": make_clip(root / "noaudio.mp4", seconds=3, size="320x240", rate=24, audio=False),
    }


def ffmpeg_running(media_id: str) -> bool:
    """Whether an ffmpeg encoding ``media_id`` (its output folder names it: ``hls/ID/`` on local storage,
    a scratch folder ``…-hls_ID-…/`` on S3) is running."""
    found = subprocess.run(["pgrep", "-f", f"hls.{media_id}[-/]"], capture_output=True, text=True)
    return bool(found.stdout.strip())


def hls_root(server: Server, media_id: str) -> Path:
    return server.settings.storage_root / "hls" / media_id


def segment_durations(playlist: m3u8.M3U8) -> list[float]:
    return [round(s.duration, 3) for s in playlist.segments]


def decode_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def check_hls(root: Path, fps: int, seconds: float, audio: bool) -> list[tuple[int, int]]:
    """Parse the master in ``root`` (an item's hls/ folder), decode every variant fully; returns each
    variant's (width, height)."""
    master = m3u8.load(str(root / "master.m3u8"))
    assert master.is_variant and master.playlists
    sizes, boundaries = [], []
    for variant in master.playlists:
        info = variant.stream_info
        assert info.bandwidth and info.average_bandwidth and info.resolution and info.codecs
        assert info.codecs.startswith("avc1.") and (("mp4a.40.2" in info.codecs) == audio)
        playlist = m3u8.load(str(root / variant.uri))
        assert playlist.is_endlist and playlist.playlist_type == "event"
        boundaries.append(segment_durations(playlist))
        frames = decode_frames(root / variant.uri)
        assert frames == pytest.approx(fps * seconds, abs=2)
        with av.open(str(root / variant.uri)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.width, stream.codec_context.height) == info.resolution
            assert bool(container.streams.audio) == audio
        sizes.append(info.resolution)
    assert all(b == boundaries[0] for b in boundaries), boundaries
    return sizes


def test_landscape_ladder_completes_and_plays(stack: Server, sources: dict[str, Path]) -> None:
    write, _ = stack.account_keys()
    media_id = upload_file(stack, write, sources["landscape"], tags="enc")
    data, progress = wait_for_status(stack, write, media_id)
    assert data["encodingStatus"] == "completed", data
    assert progress == sorted(progress) and progress[-1] == 100
    assert data["playbackUrl"] == f"http://localhost:8000/hls/{media_id}/master.m3u8"
    sizes = check_hls(hls_root(stack, media_id), fps=30, seconds=5, audio=True)
    assert sizes == [(640, 360), (426, 240)]  # nothing above the 360-line source
    thumbs = stack.settings.storage_root / "thumbnails" / media_id
    assert (thumbs / "poster.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert (thumbs / "storyboard.vtt").read_text().startswith("WEBVTT")
    with stack.client() as client:
        assert client.get(f"/hls/resolve/{media_id}").json() == {"ul": data["playbackUrl"]}


def test_portrait_and_no_audio(stack: Server, sources: dict[str, Path]) -> None:
    write, _ = stack.account_keys()
    portrait = upload_file(stack, write, sources["portrait"])
    noaudio = upload_file(stack, write, sources["noaudio"])
    assert wait_for_status(stack, write, portrait)[0]["encodingStatus"] == "completed"
    assert check_hls(hls_root(stack, portrait), fps=25, seconds=3, audio=True) == [(360, 640), (240, 426)]
    assert wait_for_status(stack, write, noaudio)[0]["encodingStatus"] == "completed"
    assert check_hls(hls_root(stack, noaudio), fps=24, seconds=3, audio=False) == [(320, 240)]


def test_custom_profile_is_honoured(stack: Server, sources: dict[str, Path]) -> None:
    write, _ = stack.account_keys()
    with stack.client(write) as client:
        resp = client.post(
            "/api/v1/encoding-profiles",
            json={
                "name": "two",
                "rungs": [{"height": 180, "videoBitrate": 300_000}, {"height": 288, "videoBitrate": 600_000}],
                "preset": "ultrafast",
                "segmentSeconds": 2,
            },
        )
        assert resp.status_code == 201, resp.text
        profile_id = resp.json()["data"]["id"]
    media_id = upload_file(stack, write, sources["landscape"], encodingProfileId=str(profile_id))
    assert wait_for_status(stack, write, media_id)[0]["encodingStatus"] == "completed"
    master = m3u8.load(str(stack.settings.storage_root / "hls" / media_id / "master.m3u8"))
    assert [p.uri for p in master.playlists] == ["288p/index.m3u8", "180p/index.m3u8"]
    rung = m3u8.load(str(stack.settings.storage_root / "hls" / media_id / "180p" / "index.m3u8"))
    assert rung.target_duration == 2


def test_source_corrupted_after_upload_fails_with_message(stack: Server, tmp_path: Path) -> None:
    """The worker finds garbage where the original was: `failed`, readable message, no retry loop."""
    srv = start_server(tmp_path / "data")
    try:
        write, _ = srv.account_keys()
        media_id = upload_file(srv, write, make_clip(tmp_path / "ok.mp4"))
        original = next((srv.settings.storage_root / "media" / media_id).iterdir())
        original.write_bytes(b"\x00garbage" * 1000)
        worker = start_worker(srv.settings)
        try:
            data, _ = wait_for_status(srv, write, media_id)
        finally:
            stop_worker(worker)
        assert data["encodingStatus"] == "failed"
        assert data["errorMessage"] and "decode" in data["errorMessage"]
        from sqlalchemy import select

        from vsrc.db.models import Media

        with srv.sessions() as session:  # a permanent failure is not retried
            assert session.scalar(select(Media.encode_attempts).where(Media.public_id == media_id)) == 1
        assert "Traceback" not in data["errorMessage"] and "/" not in data["errorMessage"].split(":")[0]
    finally:
        stop_server(srv)


@pytest.mark.timeout(900)  # two veryslow encodes of 20 s: long on a loaded machine
def test_sigkilled_worker_job_completes_after_restart(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
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
        processing, _ = wait_for_status(srv, write, media_id, statuses=("processing",))
        # Playable while encoding: the URL is handed out and the EVENT playlist plays from segment 1.
        assert processing["playbackUrl"].endswith(f"/hls/{media_id}/master.m3u8")
        playlist = srv.settings.storage_root / "hls" / media_id / "360p" / "index.m3u8"
        eventually(playlist.exists, timeout=60, what="the first 360p playlist")
        with srv.client() as client:
            rung = m3u8.loads(client.get(f"/hls/{media_id}/360p/index.m3u8").text)
        assert rung.playlist_type == "event" and not rung.is_endlist and rung.segments
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        stuck, _ = wait_for_status(srv, write, media_id, statuses=("processing",))
        assert stuck["encodingProgress"] < 100
        # ffmpeg must not outlive its worker (it would keep writing into the retry's folder).
        eventually(lambda: not ffmpeg_running(media_id), timeout=15, what="ffmpeg gone with its worker")

        # The restarted worker re-queues on start only what the stale test of the service sees as stale.
        def stale() -> bool:
            with srv.sessions() as session:
                return media_id in encoding.stale_jobs(session, stale_after=2)

        eventually(stale, timeout=30, what="the dead worker's heartbeat goes stale")
        worker = start_worker(srv.settings, **env)
        try:
            data, _ = wait_for_status(srv, write, media_id, timeout=600)
        finally:
            stop_worker(worker)
        assert data["encodingStatus"] == "completed", data
        rung = m3u8.load(str(srv.settings.storage_root / "hls" / media_id / "360p" / "index.m3u8"))
        assert rung.is_endlist and round(sum(s.duration for s in rung.segments)) == 20
    finally:
        stop_server(srv)


def test_4k_one_second_source_gets_the_whole_ladder(stack: Server, tmp_path: Path) -> None:
    write, _ = stack.account_keys()
    clip = make_clip(tmp_path / "uhd.mp4", seconds=1, size="3840x2160", rate=10)
    media_id = upload_file(stack, write, clip)
    data, _ = wait_for_status(stack, write, media_id, timeout=240)
    assert data["encodingStatus"] == "completed", data
    assert (data["originalWidth"], data["originalHeight"]) == (3840, 2160)
    sizes = check_hls(hls_root(stack, media_id), fps=10, seconds=1, audio=True)
    assert sizes == [
        (3840, 2160),
        (2560, 1440),
        (1920, 1080),
        (1280, 720),
        (854, 480),
        (640, 360),
        (426, 240),
    ]


def test_delete_while_encoding_stops_ffmpeg_and_leaves_no_files(stack: Server, tmp_path: Path) -> None:
    write, _ = stack.account_keys()
    with stack.client(write) as client:
        slow = client.post(
            "/api/v1/encoding-profiles",
            json={"name": "slow", "rungs": [{"height": 360, "videoBitrate": 800_000}], "preset": "veryslow"},
        ).json()["data"]["id"]
    clip = make_clip(tmp_path / "long.mp4", seconds=20, size="640x360", rate=30)
    media_id = upload_file(stack, write, clip, encodingProfileId=str(slow))
    # ffmpeg is really writing segments
    eventually(
        lambda: wait_for_status(stack, write, media_id, statuses=("processing",))[0]["encodingProgress"] >= 1,
        timeout=120,
        what="encoding progress >= 1",
    )
    with stack.client(write) as client:
        assert client.delete(f"/api/v1/media/{media_id}").status_code == 200
    root = stack.settings.storage_root
    eventually(lambda: not ffmpeg_running(media_id), timeout=30, what="ffmpeg of the deleted item stopped")
    eventually(
        lambda: not any((root / area / media_id).exists() for area in ("media", "hls", "thumbnails")),
        timeout=30,
        what="no files left of the deleted item",
    )
