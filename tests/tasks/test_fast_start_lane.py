"""One worker (VSRC_WORKERS=1): a new upload does not wait behind a long encode (fast-start lane)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import (
    Server,
    make_clip,
    start_server,
    start_worker,
    stop_server,
    stop_worker,
    upload_file,
)
from tests.helpers import eventually

pytestmark = pytest.mark.slow


def status(server: Server, key: str, media_id: str) -> str:
    with server.client(key) as client:
        return str(client.get(f"/api/v1/media/{media_id}").json()["data"]["encodingStatus"])


def playable(hls: Path) -> bool:
    """Every rung of the master lists a segment (the long encode is past its own fast start)."""
    master = hls / "master.m3u8"
    if not master.exists():
        return False
    rungs = [line for line in master.read_text().splitlines() if line.endswith("index.m3u8")]
    return bool(rungs) and all("#EXTINF" in (hls / rung).read_text() for rung in rungs)


def test_new_upload_finishes_while_a_long_encode_runs(tmp_path: Path) -> None:
    long_clip = make_clip(tmp_path / "long.mp4", seconds=24, size="1280x720", rate=30)
    short_clip = make_clip(tmp_path / "short.mp4", seconds=2, size="320x240", rate=15)
    server = start_server(tmp_path / "data")
    worker = start_worker(server.settings, VSRC_WORKERS="1")
    try:
        key = server.key("write")
        long_id = upload_file(server, key, long_clip)
        hls = server.settings.storage_root / "hls" / long_id
        eventually(lambda: playable(hls), timeout=120, what="the long encode past its fast start")
        short_id = upload_file(server, key, short_clip)
        eventually(lambda: status(server, key, short_id) == "completed", timeout=300, what="short encode")
        # the short upload did not queue behind the long encode
        assert status(server, key, long_id) == "processing"
        log = (server.settings.data_dir / "worker.log").read_text(errors="replace")
        assert f"{long_id}: paused for a fast start" in log
        assert f"{long_id}: continued" in log
        eventually(lambda: status(server, key, long_id) == "completed", timeout=600, what="long encode done")
    finally:
        stop_worker(worker)
        stop_server(server)
