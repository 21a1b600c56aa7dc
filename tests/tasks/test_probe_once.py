"""The encode job reuses the upload's probe (``vsrc.media.probed``) unless the source changed."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import select, update

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
from vsrc.db.models import Media
from vsrc.db.session import transaction
from vsrc.media import probed
from vsrc.media.probe import probe


def test_dump_load_round_trip_and_fingerprint_checks(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4", seconds=1, rate=30)
    info = probe(clip)
    assert isinstance(info.frame_rate, Fraction)
    mark = probed.file_fingerprint(clip)
    text = probed.dump(info, mark)
    assert probed.load(text, mark) == info
    other = make_clip(tmp_path / "b.mp4", seconds=1, rate=25)
    assert probed.load(text, probed.file_fingerprint(other)) is None  # another file: probe again
    old = json.loads(text) | {"format": probed.FORMAT - 1}
    assert probed.load(json.dumps(old), mark) is None  # an older format: probe again
    assert probed.load("{not json", mark) is None
    assert probed.load(None, mark) is None


def stored_probe(server: Server, media_id: str) -> dict:
    with transaction(server.runtime.sessions) as session:
        text = session.scalar(select(Media.source_probe).where(Media.public_id == media_id))
    assert text
    return dict(json.loads(text))


def set_probe(server: Server, media_id: str, record: dict) -> None:
    with transaction(server.runtime.sessions) as session:
        session.execute(
            update(Media).where(Media.public_id == media_id).values(source_probe=json.dumps(record))
        )


def variants(server: Server, media_id: str) -> int:
    master = server.settings.storage_root / "hls" / media_id / "master.m3u8"
    return sum(line.endswith("index.m3u8") for line in master.read_text().splitlines())


@pytest.mark.slow
def test_job_uses_the_stored_probe_and_probes_a_replaced_source(tmp_path: Path) -> None:
    small = make_clip(tmp_path / "small.mp4", seconds=2, size="320x240", rate=15)
    large = make_clip(tmp_path / "large.mp4", seconds=2, size="640x480", rate=15)
    server = start_server(tmp_path / "data")
    worker = None
    try:
        key = server.key("write")
        # No worker yet: the rows are edited before any job runs.
        kept = upload_file(server, key, small)
        replaced = upload_file(server, key, small)
        # 1. The stored result is what the job plans from: claim the small source is 640x480, and the
        #    ladder gets the rungs of a 640x480 source (a second probe would have found 320x240).
        record = stored_probe(server, kept)
        assert record["fingerprint"] == probed.file_fingerprint(small)
        assert (record["info"]["width"], record["info"]["height"]) == (320, 240)
        for name, value in (("width", 640), ("height", 480), ("display_width", 640), ("display_height", 480)):
            record["info"][name] = value
        set_probe(server, kept, record)
        # 2. A source replaced after the upload (same key, another file) is probed again.
        original = next((server.settings.storage_root / "media" / replaced).glob("original*"))
        shutil.copyfile(large, original)
        worker = start_worker(server.settings)
        assert wait_for_status(server, key, kept)[0]["encodingStatus"] == "completed"
        assert wait_for_status(server, key, replaced)[0]["encodingStatus"] == "completed"
        honest = make_clip(tmp_path / "honest.mp4", seconds=2, size="320x240", rate=15)
        honest_id = upload_file(server, key, honest)
        assert wait_for_status(server, key, honest_id)[0]["encodingStatus"] == "completed"
        assert variants(server, kept) > variants(server, honest_id)
        assert variants(server, replaced) == variants(server, kept)  # planned from the new 640x480
        log = (server.settings.data_dir / "worker.log").read_text(errors="replace")
        assert f"encode {honest_id}: source info from the upload's probe" in log
    finally:
        if worker is not None:
            stop_worker(worker)
        stop_server(server)
