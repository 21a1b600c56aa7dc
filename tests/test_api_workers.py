"""`vsrc api` with VSRC_API_WORKERS=2: two uvicorn worker processes that both serve and stay up.

uvicorn's supervisor pings each worker through a pipe and SIGKILLs (no traceback) one that does not
answer in time, then starts another. On a loaded machine a starting worker answered late, was killed
and replaced by one that met the same fate, and /health never answered. A worker frozen with SIGSTOP
is such a slow worker, made deterministic.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.helpers import ApiProcess, eventually, frozen, worker_pids

pytestmark = pytest.mark.slow


def _two(pids: list[int]) -> list[int] | None:
    return pids if len(pids) == 2 else None


def _health(api: ApiProcess) -> int:
    # A fresh connection each time: a kept-alive one would stay with the worker that accepted it.
    return httpx.get(f"{api.url}/health", timeout=60, headers={"Connection": "close"}).status_code


def test_two_api_workers_both_serve_and_a_slow_one_is_not_killed(tmp_path: Path) -> None:
    api = ApiProcess(tmp_path, VSRC_API_WORKERS="2")
    try:
        parent = api.proc.pid
        workers = eventually(lambda: _two(worker_pids(parent)), timeout=120, what="two live workers")
        # Each worker serves on its own: with the other one frozen, /health is still answered.
        for worker in workers:
            with frozen(worker):
                assert [_health(api) for _ in range(5)] == [200] * 5
        # A worker that answers the supervisor late (here: frozen, on a loaded box: starved) keeps
        # running; uvicorn's default 5 s healthcheck would have killed and replaced it by now.
        with frozen(workers[0]), pytest.raises(AssertionError):
            eventually(lambda: worker_pids(parent) != workers, timeout=15, what="a worker is replaced")
        assert worker_pids(parent) == workers
        assert [_health(api) for _ in range(10)] == [200] * 10
    finally:
        api.stop()
