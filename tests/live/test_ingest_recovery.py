"""An ingest killed mid-stream leaves a `live` row and a partial recording: the next start ends the
stream and still turns the recording into a VOD."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from tests.conftest import make_clip, start_server, stop_server
from tests.live.conftest import start_ingest, stop_ingest
from vsrc.db.models import LiveStream
from vsrc.db.session import transaction
from vsrc.ingest.authorizer import recording_path

pytestmark = pytest.mark.slow


def test_restart_after_a_crash_ends_the_stream_and_keeps_the_recording(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        write, _ = server.account_keys()
        with server.client(write) as client:
            live = client.post("/api/v1/live", json={"title": "Crashed"}).json()["data"]
        # What a SIGKILLed ingest leaves behind: the row still `live`, a half-written recording.
        with transaction(server.sessions) as session:
            session.execute(
                update(LiveStream).where(LiveStream.public_id == live["mediaId"]).values(status="live")
            )
        partial = recording_path(server.settings.data_dir / "recordings" / "1", live["mediaId"])
        partial.parent.mkdir(parents=True)
        make_clip(partial, seconds=2, extra=["-f", "flv"])
        stack = start_ingest(server)
        stop_ingest(stack)
        with server.client(write) as client:
            detail = client.get(f"/api/v1/live/{live['mediaId']}").json()["data"]
        assert detail["status"] == "ended"
        assert len(detail["recordings"]) == 1
        assert detail["recordings"][0]["title"].startswith("Crashed — recording ")
        assert detail["recordings"][0]["encodingStatus"] == "pending"  # queued for the worker
        assert list(partial.parent.iterdir()) == []
    finally:
        stop_server(server)
