"""``/health`` reports worker liveness from the heartbeats in the database (so any API of a fleet can)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import (
    PG_ADMIN_URL,
    REDIS_URL,
    free_port,
    start_server,
    start_worker,
    stop_server,
    stop_worker,
)
from tests.helpers import eventually
from vsrc.config import Settings
from vsrc.services import health as health_service


def _health(url: str) -> dict:
    return dict(httpx.get(f"{url}/health", timeout=10).json())


def test_health_reports_a_dead_worker_as_stale(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", heartbeat_seconds=0.5)
    worker = start_worker(server.settings, VSRC_HEARTBEAT_SECONDS="0.5")
    try:
        ok = eventually(
            lambda: (h := _health(server.url))["status"] == "ok" and h, timeout=60, what="worker up"
        )
        assert ok["workers"] == {"alive": 1, "stale": []} and ok["reasons"] == []

        worker.send_signal(signal.SIGKILL)  # no clean stop: its row just stops beating
        worker.wait(timeout=30)
        degraded = eventually(
            lambda: (h := _health(server.url))["status"] == "degraded" and h, timeout=60, what="worker stale"
        )
        assert degraded["workers"]["alive"] == 0
        assert [
            s.startswith("worker ") and f":{worker.pid}: last heartbeat" in s
            for s in degraded["workers"]["stale"]
        ] == [True]
        assert "no worker is running: encodes wait" in degraded["reasons"]
        assert degraded["workers"]["stale"][0] in degraded["reasons"]
    finally:
        stop_worker(worker)
        stop_server(server)


def test_a_cleanly_stopped_worker_is_gone_not_stale(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", heartbeat_seconds=0.5)
    worker = start_worker(server.settings, VSRC_HEARTBEAT_SECONDS="0.5")
    try:
        eventually(lambda: _health(server.url)["workers"]["alive"] == 1, timeout=60, what="worker up")
        stop_worker(worker)  # SIGTERM: the worker removes its row
        # /health is recomputed at most once per VSRC_HEALTH_CACHE_SECONDS; the worker never shows as stale.
        health = eventually(
            lambda: (h := _health(server.url))["workers"]["alive"] == 0 and h, timeout=60, what="worker gone"
        )
        assert health["workers"] == {"alive": 0, "stale": []}
    finally:
        stop_worker(worker)
        stop_server(server)


def test_health_reports_a_dead_ingest_as_stale(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", heartbeat_seconds=0.5)
    env = {
        **os.environ,
        "VSRC_DATA_DIR": str(server.settings.data_dir),
        "VSRC_RTMP_HOST": "127.0.0.1",
        "VSRC_RTMP_PORT": str(free_port()),
        "VSRC_HEARTBEAT_SECONDS": "0.5",
    }
    if server.settings.database_url:
        env["VSRC_DATABASE_URL"] = server.settings.database_url
    ingest = subprocess.Popen([sys.executable, "-m", "vsrc", "ingest"], env=env, stderr=subprocess.DEVNULL)
    try:
        eventually(lambda: _health(server.url)["ingest"]["online"] == 1, timeout=60, what="ingest up")
        ingest.send_signal(signal.SIGKILL)
        ingest.wait(timeout=30)
        health = eventually(lambda: (h := _health(server.url))["ingest"]["stale"] and h, timeout=60)
        assert health["status"] == "degraded" and health["ingest"]["online"] == 0
        assert health["ingest"]["stale"][0].startswith("ingest server 1 (")
        assert health["ingest"]["stale"][0] in health["reasons"]
    finally:
        if ingest.poll() is None:
            ingest.kill()
            ingest.wait()
        stop_server(server)


def test_concurrent_probes_share_one_computation_off_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    report = health_service.report

    def counted(*args: Any, **kwargs: Any) -> dict[str, Any]:
        threads.append(threading.get_ident())
        return report(*args, **kwargs)

    monkeypatch.setattr(health_service, "report", counted)
    server = start_server(tmp_path / "data", health_cache_seconds=60)
    try:
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _: _health(server.url), range(48)))
        assert answers[0]["status"] == "degraded" and all(a == answers[0] for a in answers)
        assert len(threads) == 1  # one computation for every probe within the window
        assert server.thread.ident not in threads  # in a worker thread, not on the event loop
    finally:
        stop_server(server)


@pytest.mark.skipif(
    not (PG_ADMIN_URL and REDIS_URL), reason="a fleet needs TEST_POSTGRES_URL and TEST_REDIS_URL"
)
def test_every_api_of_a_fleet_sees_workers_and_ingest_on_other_machines(tmp_path: Path) -> None:
    """Two APIs, a worker and an ingest server, each with its own data folder (as on four machines),
    share only PostgreSQL and Redis: both APIs report the others' liveness, then their deaths."""
    first = start_server(tmp_path / "api-1", heartbeat_seconds=0.5)
    shared = {"database_url": first.settings.database_url, "redis_url": first.settings.redis_url}
    second = start_server(tmp_path / "api-2", heartbeat_seconds=0.5, **shared)
    for folder in ("worker", "ingest"):
        (tmp_path / folder).mkdir()
    worker = start_worker(Settings(data_dir=tmp_path / "worker", **shared), VSRC_HEARTBEAT_SECONDS="0.5")
    ingest_dir = tmp_path / "ingest"
    env = {
        **os.environ,
        "VSRC_DATA_DIR": str(ingest_dir),
        "VSRC_DATABASE_URL": str(first.settings.database_url),
        "VSRC_REDIS_URL": str(first.settings.redis_url),
        "VSRC_RTMP_HOST": "127.0.0.1",
        "VSRC_RTMP_PORT": str(free_port()),
        "VSRC_HEARTBEAT_SECONDS": "0.5",
    }
    ingest = subprocess.Popen([sys.executable, "-m", "vsrc", "ingest"], env=env, stderr=subprocess.DEVNULL)
    apis = (first, second)
    try:
        for api in apis:
            up = eventually(
                lambda api=api: (h := _health(api.url))["ingest"]["online"] == 1 and h, 60, what="fleet up"
            )
            assert up["status"] == "ok" and up["workers"] == {"alive": 1, "stale": []}
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        ingest.send_signal(signal.SIGKILL)
        ingest.wait(timeout=30)
        for api in apis:
            down = eventually(
                lambda api=api: (h := _health(api.url))["workers"]["stale"] and h["ingest"]["stale"] and h,
                60,
                what="worker and ingest stale",
            )
            assert down["status"] == "degraded" and down["workers"]["alive"] == 0
            assert f":{worker.pid}: last heartbeat" in down["workers"]["stale"][0]
            assert down["ingest"]["online"] == 0 and down["ingest"]["stale"][0].startswith(
                "ingest server 1 ("
            )
    finally:
        stop_worker(worker)
        if ingest.poll() is None:
            ingest.kill()
            ingest.wait()
        stop_server(second)
        stop_server(first)
