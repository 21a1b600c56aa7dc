"""A full disk under the embedded deployment (database, queue and media on one small real tmpfs).

An encode that fills the disk fails cleanly (``failed``, no partial output); while the disk is full,
reads and DELETE work, writes get 507, ``/health`` says why it is degraded and the worker neither takes
jobs nor spins on its queue; once space is back everything resumes.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from huey import crontab

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

KIB, MIB = 1024, 1024 * 1024
API_MIN_FREE = 256 * KIB


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB tmpfs, unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path, *, leave: int = 0) -> Path:
    """Write ``path`` until only ``leave`` bytes stay free on its filesystem (0: until it is full)."""
    chunk = b"\0" * (256 * KIB)
    with path.open("ab") as fh:
        while True:
            room = shutil.disk_usage(path.parent).free - leave
            if room <= 0:
                return path
            try:
                fh.write(chunk[: min(len(chunk), room)])
                fh.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                return path


def health(server: Server) -> dict:
    return dict(httpx.get(f"{server.url}/health", timeout=10).json())


def serve_on(disk: Path, worker_log: Path, **worker_env: str) -> tuple[Server, object]:
    # SQLite and the SQLite queue on purpose: they are what shares the disk with the media.
    server = start_server(
        disk / "data",
        database_url=None,
        redis_url=None,
        min_free_bytes=API_MIN_FREE,
        key_touch_seconds=0,  # every request wants to write lastUsedAt
        heartbeat_seconds=0.5,
    )
    env = {"VSRC_MIN_FREE_BYTES": str(API_MIN_FREE), "VSRC_HEARTBEAT_SECONDS": "0.5", **worker_env}
    worker = start_worker(server.settings, log_path=worker_log, **env)  # a full disk cannot take logs
    eventually(lambda: health(server)["status"] == "ok", timeout=60, what="worker up, disk fine")
    return server, worker


def test_a_full_disk_fails_the_encode_cleanly_and_the_service_recovers(disk: Path, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "big.mp4", seconds=12, size="640x360", rate=30)
    small = make_clip(tmp_path / "small.mp4", seconds=1)
    worker_log = tmp_path / "worker.log"
    server, worker = serve_on(disk, worker_log)
    try:
        write, _read = server.account_keys()
        # Room for the upload and ~0.5 MiB more: the encode's segments cannot fit.
        ballast = fill(disk / "ballast", leave=clip.stat().st_size + 2 * API_MIN_FREE + 512 * KIB)
        media_id = upload_file(server, write, clip)
        with server.client(write) as client:
            failed = eventually(
                lambda: (
                    (d := client.get(f"/api/v1/media/{media_id}").json()["data"])["encodingStatus"]
                    in ("failed", "completed")
                    and d
                ),
                timeout=240,
                what="the encode ends",
            )
        assert failed["encodingStatus"] == "failed"
        assert failed["errorMessage"] == "Encoding failed: no space left on device"
        storage = server.settings.storage_root
        assert not (storage / "hls" / media_id).exists() and not (storage / "thumbnails" / media_id).exists()

        # Now the disk is completely full.
        fill(disk / "ballast2")
        degraded = eventually(lambda: (h := health(server))["status"] == "degraded" and h, timeout=30)
        assert any(r.startswith("low disk space: ") for r in degraded["reasons"])
        # Before the DELETE below, which frees space again.
        eventually(
            lambda: "worker paused, no new jobs: low disk space" in worker_log.read_text(),
            timeout=60,
            what="the worker pauses",
        )
        with server.client(write) as client:
            assert client.get("/api/v1/media").status_code == 200
            assert client.get(f"/api/v1/media/{media_id}").status_code == 200
            live = client.post("/api/v1/live", json={"title": "no room"})
            # Refused up front (free space under the watermark), or by the database's own disk-full error.
            assert live.status_code == 507
            assert live.json()["success"] is False and "disk" in live.json()["message"]
            up = client.post(
                "/api/v1/media/upload", files={"file": ("s.mp4", small.read_bytes())}, data={"title": "s"}
            )
            assert up.status_code == 507 and up.json()["success"] is False
            assert client.delete(f"/api/v1/media/{media_id}").status_code == 200
            assert client.get(f"/api/v1/media/{media_id}").status_code == 404
        assert not (storage / "media" / media_id).exists()

        (disk / "ballast2").unlink()
        ballast.unlink()
        eventually(lambda: health(server)["status"] == "ok", timeout=60, what="healthy again")
        again = upload_file(server, write, small)
        with server.client(write) as client:
            eventually(
                lambda: client.get(f"/api/v1/media/{again}").json()["data"]["encodingStatus"] == "completed",
                timeout=120,
                what="the worker resumed",
            )
        assert "Error reading from queue" not in worker_log.read_text()
        assert "worker resumed" in worker_log.read_text()
    finally:
        stop_worker(worker)  # type: ignore[arg-type]
        stop_server(server)


def test_worker_waits_below_its_watermark_and_resumes(disk: Path, tmp_path: Path) -> None:
    small = make_clip(tmp_path / "small.mp4", seconds=1)
    # The worker wants more room than the API: uploads are accepted, encodes wait.
    server, worker = serve_on(disk, tmp_path / "worker.log", VSRC_MIN_FREE_BYTES=str(16 * MIB))
    try:
        write, _ = server.account_keys()
        ballast = fill(disk / "ballast", leave=8 * MIB)
        paused = eventually(
            lambda: (h := health(server))["status"] == "degraded" and h, timeout=30, what="worker paused"
        )
        assert [r for r in paused["reasons"] if "paused: low disk space" in r]
        media_id = upload_file(server, write, small)
        assert any("paused" in r for r in health(server)["reasons"])  # still paused after the upload
        with server.client(write) as client:
            assert client.get(f"/api/v1/media/{media_id}").json()["data"]["encodingStatus"] == "pending"
            ballast.unlink()
            eventually(
                lambda: (
                    client.get(f"/api/v1/media/{media_id}").json()["data"]["encodingStatus"] == "completed"
                ),
                timeout=120,
                what="the worker resumed",
            )
        assert health(server)["status"] == "ok"
    finally:
        stop_worker(worker)  # type: ignore[arg-type]
        stop_server(server)


def test_the_scheduler_stays_quiet_on_a_full_disk_and_catches_up_after(
    disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Huey's scheduler writes the queue every minute (periodic tasks) and whenever a delayed task is
    due; on a full disk each write failed and logged a traceback. Paused, it writes nothing (the
    worker logs the pause once), and catches up once space is back."""
    import logging

    from huey.consumer import Scheduler

    from vsrc.config import Settings
    from vsrc.tasks.diskgate import DiskGate
    from vsrc.tasks.queue import create_huey

    settings = Settings(data_dir=disk / "data", min_free_bytes=API_MIN_FREE)
    huey = create_huey(settings)
    huey.gate = DiskGate(settings)
    huey.periodic_task(crontab(minute="*"), name="tick")(lambda: None)
    later = huey.task(name="later")(lambda: None)
    due = later.s()
    due.eta = datetime.now(UTC).replace(tzinfo=None)  # Huey(utc=True) keeps naive UTC times
    huey.add_schedule(due)  # a delayed task, due now: the scheduler's to move to the queue
    filler = fill(disk / "filler")
    scheduler = Scheduler(huey, stop_flag=threading.Event(), interval=1, periodic=True)
    caplog.set_level(logging.INFO)
    for _ in range(3):  # three minutes' worth of scheduler work
        scheduler._next_loop = time.monotonic()
        scheduler._next_periodic = time.monotonic()
        scheduler.loop()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    paused = [r for r in caplog.records if "paused" in r.getMessage()]
    assert len(paused) == 1
    assert huey.pending_count() == 0 and huey.scheduled_count() == 1
    filler.unlink()
    scheduler._next_loop = scheduler._next_periodic = time.monotonic()
    eventually(lambda: huey.gate.reason() is None, timeout=30, what="space back")
    scheduler.loop()
    assert huey.scheduled_count() == 0
    assert sorted(t.name for t in huey.pending()) == ["later", "tick"]
