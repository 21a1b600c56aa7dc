"""A small closed-loop HTTP load client: N threads, one keep-alive connection each, for a fixed time.

Threads block in socket I/O (the GIL is released there), so a handful of them cost little client
CPU; the same client measures the baseline, so its own overhead cancels out in the ratios.
"""

from __future__ import annotations

import http.client
import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench.common import percentile


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        return percentile(self.latencies_ms, p) if self.latencies_ms else float("nan")


def run_load(
    base_url: str,
    paths: Sequence[str],
    *,
    headers: dict[str, str],
    concurrency: int,
    seconds: float,
    warmup: float = 0.5,
) -> LoadResult:
    """Hit ``paths`` (cycled) for ``warmup + seconds``; only the last ``seconds`` are recorded."""
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    cycle = itertools.cycle(paths)
    lock = threading.Lock()
    latencies: list[float] = []
    errors = [0]
    start_gate = threading.Barrier(concurrency + 1)
    t_measure = [0.0]
    t_end = [0.0]

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        mine: list[float] = []
        bad = 0
        start_gate.wait()
        while True:
            with lock:
                path = next(cycle)
            t0 = time.perf_counter()
            if t0 >= t_end[0]:
                break
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            t1 = time.perf_counter()
            if t0 >= t_measure[0]:
                mine.append((t1 - t0) * 1000)
                bad += response.status != 200
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    now = time.perf_counter()
    t_measure[0] = now + warmup
    t_end[0] = t_measure[0] + seconds
    start_gate.wait()
    for thread in threads:
        thread.join()
    return LoadResult(len(latencies), errors[0], seconds, latencies)
