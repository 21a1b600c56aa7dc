"""SIGTERM to a real ``vsrc ingest`` while an ffmpeg publishes: a clean shutdown. The publish ends as if
the publisher had stopped (its recording becomes a VOD, the stream ``ended``), the log says so once per
session, and there is no traceback (a cancelled connection task used to end in asyncio's "Exception in
callback ... CancelledError")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port, service_env, start_server, stop_server
from tests.helpers import eventually
from tests.live.conftest import publish

pytestmark = pytest.mark.slow


def test_sigterm_during_a_publish_ends_it_cleanly(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    ingest: subprocess.Popen[bytes] | None = None
    publisher: subprocess.Popen[str] | None = None
    log = tmp_path / "ingest.log"
    try:
        write, _ = server.account_keys()
        with server.client(write) as client:
            live = client.post("/api/v1/live", json={"title": "Show"}).json()["data"]
        live_id = live["mediaId"]
        port = free_port()
        env = {
            **os.environ,
            **service_env(server.settings),
            "VSRC_RTMP_HOST": "127.0.0.1",
            "VSRC_RTMP_PORT": str(port),
        }
        with log.open("wb") as out:
            ingest = subprocess.Popen(
                [sys.executable, "-m", "vsrc", "ingest"], env=env, stdout=out, stderr=out
            )
        eventually(lambda: "listening on port" in log.read_text(), timeout=60, what="the ingest listening")
        publisher = publish(f"rtmp://127.0.0.1:{port}/live/{live['streamKey']}", seconds=120)

        def segments_listed() -> bool:
            return any(k.endswith(".ts") for k in server.runtime.storage.list(f"hls/{live_id}"))

        eventually(segments_listed, timeout=90, what="live segments written")
        ingest.send_signal(signal.SIGTERM)
        assert ingest.wait(timeout=120) == 0
        text = log.read_text()
        assert "Traceback" not in text and "CancelledError" not in text, text
        assert "ERROR" not in text, text
        ended = [line for line in text.splitlines() if "closing: the ingest is stopping" in line]
        assert len(ended) == 1, text
        assert f"recording of {live_id} stored as vod_" in text, text
        assert text.rstrip().endswith("rtmp server stopped"), text
        with server.client(write) as client:
            detail = client.get(f"/api/v1/live/{live_id}").json()["data"]
        assert detail["status"] == "ended"
        assert len(detail["recordings"]) == 1
    finally:
        for proc in (publisher, ingest):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        stop_server(server)
