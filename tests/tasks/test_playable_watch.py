"""``media.playable`` follows the first segments, not ffmpeg's progress reports (``vsrc.tasks.playable``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.conftest import make_clip, start_server, start_worker, stop_server, stop_worker, upload_file
from tests.helpers import eventually
from vsrc.db.models import Media
from vsrc.db.session import transaction
from vsrc.storage.factory import open_storage
from vsrc.storage.url import FileLocation
from vsrc.tasks.playable import PlayableWatch

pytestmark = pytest.mark.slow


def test_playable_while_encoding_even_without_progress(tmp_path: Path) -> None:
    """The stored probe claims the source lasts 10,000 s: the whole-number percentage of its 20 s of
    content never rises, so no progress report reaches the job before ffmpeg ends. The job must still
    see the item become playable while ffmpeg is encoding (some playlist has no ENDLIST yet)."""
    clip = make_clip(tmp_path / "clip.mp4", seconds=20, size="1280x720", rate=30)
    server = start_server(tmp_path / "data")
    worker = None
    try:
        key = server.key("write")
        media_id = upload_file(server, key, clip)  # no worker yet: the row is edited first
        with transaction(server.runtime.sessions) as session:
            record = json.loads(session.scalar(select(Media.source_probe).where(Media.public_id == media_id)))
            record["info"]["duration"] = 10_000.0
            session.execute(
                update(Media).where(Media.public_id == media_id).values(source_probe=json.dumps(record))
            )
        log_path = tmp_path / "worker.log"
        worker = start_worker(server.settings, log_path, VSRC_WORKERS="1")
        hls = server.settings.storage_root / "hls" / media_id

        def playable_logged() -> list[str]:
            text = log_path.read_text(errors="replace")
            if f"encode {media_id}: playable" not in text:
                return []
            return [p.read_text() for p in hls.glob("*/index.m3u8")]

        playlists = eventually(playable_logged, timeout=300, interval=0.02, what="playable")
        assert playlists and all("#EXTINF" in text for text in playlists)
        assert any("#EXT-X-ENDLIST" not in text for text in playlists), "announced only after ffmpeg ended"
        log = log_path.read_text(errors="replace")
        assert f"encode {media_id}: source info from the upload's probe" in log
    finally:
        if worker is not None:
            stop_worker(worker)
        stop_server(server)


def test_watch_announces_once(tmp_path: Path) -> None:
    storage = open_storage(FileLocation(tmp_path / "storage"), scratch=tmp_path / "scratch")
    announced: list[bool] = []
    with storage.stage("hls/x") as stage:
        watch = PlayableWatch("x", stage, ["a", "b"], lambda: announced.append(True), poll=0.01)
        watch.start()
        try:
            for name in ("a", "b"):
                (stage.path / name).mkdir()
                (stage.path / name / "index.m3u8").write_text("#EXTM3U\n")
            (stage.path / "a" / "index.m3u8").write_text("#EXTM3U\n#EXTINF:1.0,\nseg_00000.ts\n")
            assert not watch.check()
            (stage.path / "b" / "index.m3u8").write_text("#EXTM3U\n#EXTINF:1.0,\nseg_00000.ts\n")
            eventually(lambda: announced, timeout=30, what="announced by the watch thread")
            assert watch.check()
        finally:
            watch.stop()
    assert announced == [True]
