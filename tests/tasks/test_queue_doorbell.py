"""The SQLite queue wakes an idle worker when a job is queued (``vsrc.tasks.doorbell``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.conftest import make_clip, start_server, start_worker, stop_server, stop_worker, upload_file
from tests.helpers import eventually
from vsrc.tasks.doorbell import SUFFIX, Doorbell


def test_ring_wakes_the_listener_and_skips_dead_fifos(tmp_path: Path) -> None:
    folder = tmp_path / "wake"
    assert Doorbell(folder).ring() == 0  # nobody ever listened: nothing to do, no error
    # A dead worker's FIFO (nobody reads it), old enough not to be a starting one.
    os.makedirs(folder)
    dead = folder / f"1-dead{SUFFIX}"
    os.mkfifo(dead)
    old = time.time() - 3600
    os.utime(dead, (old, old))
    bell = Doorbell(folder)
    listener = bell.listener()
    assert listener is not None
    try:
        assert not dead.exists()  # swept by the listener that started
        seen = listener.rings
        assert Doorbell(folder).ring() == 1  # another process's enqueuer rings this one
        assert listener.wait(seen, timeout=30)
        assert listener.rings > seen
    finally:
        bell.close()
    assert not listener.path.exists()
    assert Doorbell(folder).ring() == 0


@pytest.mark.slow
def test_idle_worker_is_woken_by_the_upload_not_by_its_poll(tmp_path: Path) -> None:
    """With a 60 s poll interval the job can only start early if the enqueue woke the worker."""
    clip = make_clip(tmp_path / "clip.mp4", seconds=1)
    server = start_server(tmp_path / "data")
    log_path = tmp_path / "worker.log"
    worker = start_worker(
        server.settings, log_path, VSRC_QUEUE_POLL_SECONDS="60", VSRC_LOG_LEVEL="DEBUG", VSRC_WORKERS="1"
    )
    try:
        wake = server.settings.data_dir / "wake" / "vsrc"
        if not server.settings.redis_url:  # Redis consumers block in BRPOP instead
            eventually(lambda: list(wake.glob(f"*{SUFFIX}")), timeout=120, what="the worker listens")
        key = server.key("write")
        start = len(log_path.read_bytes())
        media_id = upload_file(server, key, clip)

        def status() -> str:
            with server.client(key) as client:
                return str(client.get(f"/api/v1/media/{media_id}").json()["data"]["encodingStatus"])

        # Claimed well before the 60 s fallback poll could have found it.
        eventually(lambda: status() != "pending", timeout=45, what="the job picked up")
        eventually(lambda: status() == "completed", timeout=300, what="encode done")
        log = log_path.read_bytes()[start:].decode(errors="replace")
        if not server.settings.redis_url:
            rang = log.find("queue doorbell rang")
            assert 0 <= rang < log.find("Executing vsrc.tasks.jobs.encode_media"), log[-3000:]
    finally:
        stop_worker(worker)
        stop_server(server)
    if not server.settings.redis_url:
        assert not list(wake.glob(f"*{SUFFIX}"))  # a stopped worker leaves no FIFO behind
