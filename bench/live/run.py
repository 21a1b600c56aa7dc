"""One benchmark level: N passthrough streams through our ingest or through N ffmpeg listeners."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import free_port, median, percentile
from bench.live.procs import (
    Publisher,
    children,
    cpu_seconds,
    ffmpeg_listener,
    our_ingest,
    stop,
    wait_listening,
)
from bench.live.watch import BucketStream, Stream, Watcher

LATE_SLACK = 1.0  # a segment is late when listed > its duration + 1 s after the previous one
START_TIMEOUT = 40.0


@dataclass
class Level:
    impl: str  # "ours" (Python RTMP ingest + ffmpeg -c copy per stream) or "ffmpeg" (ffmpeg -listen)
    streams: int
    window: float = 0.0  # seconds of the measurement window
    started: int = 0  # streams that listed a segment before the window
    server_cpu: float = 0.0  # ours: the Python process; ffmpeg: all listener processes
    remux_cpu: float = 0.0  # ours: the ffmpeg remux children; ffmpeg: 0 (inside server_cpu)
    publisher_cpu: float = 0.0
    segments: int = 0  # segments listed inside the window
    late: int = 0
    worst_gap_excess: float = 0.0  # max over segments of (gap to the previous listing - duration)
    latencies: list[float] = field(default_factory=list)
    load: float = 0.0

    def per_stream(self, cpu: float) -> float:
        """CPU as % of one core per stream."""
        return 100 * cpu / self.streams / self.window if self.window else 0.0

    @property
    def on_time(self) -> bool:
        return self.started == self.streams and self.late == 0 and self.segments > 0

    def latency(self, pct: float) -> float | None:
        return percentile(self.latencies, pct) if self.latencies else None

    @property
    def latency_median(self) -> float | None:
        return median(self.latencies) if self.latencies else None


@dataclass
class Bucket:
    """Where impl ``s3`` packages: ``url`` for the ingest, a client and the bucket for the watcher."""

    url: str
    client: Any
    name: str


def run_level(
    impl: str, streams: int, source: Path, work: Path, window: float, sink: str, bucket: Bucket | None = None
) -> Level:
    out = work / f"{impl}-{streams}"
    level = Level(impl, streams)
    servers: list[subprocess.Popen[bytes]] = []
    publishers: list[Publisher] = []
    watcher: Watcher | None = None
    try:
        playlists: list[Path] | list[Stream]
        if impl == "ours":
            proc, port = our_ingest(out, sink)
            servers.append(proc)
            urls = [f"rtmp://127.0.0.1:{port}/live/s{i}" for i in range(streams)]
            playlists = [out / f"s{i}" / "source" / "index.m3u8" for i in range(streams)]
        elif impl == "s3":
            assert bucket is not None
            # A fresh prefix per level: the watcher must not see a previous level's playlists.
            prefix = f"{streams}-{time.monotonic_ns()}"
            proc, port = our_ingest(out, "packager", f"{bucket.url.replace('?', f'/{prefix}?', 1)}")
            servers.append(proc)
            urls = [f"rtmp://127.0.0.1:{port}/live/s{i}" for i in range(streams)]
            playlists = [
                BucketStream(
                    Path(f"{prefix}/s{i}/source/index.m3u8"), client=bucket.client, bucket=bucket.name
                )
                for i in range(streams)
            ]
        else:
            ports = [free_port() for _ in range(streams)]
            servers += [ffmpeg_listener(p, out / f"s{i}") for i, p in enumerate(ports)]
            for p in ports:
                wait_listening(p)
            urls = [f"rtmp://127.0.0.1:{p}/live/x" for p in ports]
            playlists = [out / f"s{i}" / "index.m3u8" for i in range(streams)]
        watcher = Watcher(playlists)
        publishers = [Publisher(source, url) for url in urls]
        deadline = time.monotonic() + START_TIMEOUT
        while not watcher.all_started() and time.monotonic() < deadline:
            time.sleep(0.1)
        level.started = sum(1 for s in watcher.streams if s.segments)
        remuxers = [c for s in servers for c in children(s.pid)] if impl != "ffmpeg" else []

        def snapshot() -> tuple[float, float, float]:
            return (
                sum(cpu_seconds(s.pid) for s in servers),
                sum(cpu_seconds(r) for r in remuxers),
                sum(cpu_seconds(p.proc.pid) for p in publishers),
            )

        t_start, cpu0 = time.monotonic(), snapshot()
        time.sleep(window)
        t_end, cpu1 = time.monotonic(), snapshot()
        level.window = t_end - t_start
        level.server_cpu, level.remux_cpu, level.publisher_cpu = (
            b - a for a, b in zip(cpu0, cpu1, strict=True)
        )
        level.load = os.getloadavg()[0]
    finally:
        for pub in publishers:
            pub.stop()
        if watcher is not None:
            watcher.close()
        for server in servers:
            stop(server)
    _score(level, watcher, publishers, t_start, t_end)
    return level


def _score(level: Level, watcher: Watcher | None, publishers: list[Publisher], t0: float, t1: float) -> None:
    """Late segments (gap rule) and latencies of the segments listed inside the window."""
    if watcher is None:
        return
    for stream, pub in zip(watcher.streams, publishers, strict=True):
        for seg in stream.segments.values():
            if not t0 <= seg.listed <= t1:
                continue
            level.segments += 1
            prev = stream.segments.get(seg.index - 1)
            if prev is not None:
                excess = seg.listed - prev.listed - seg.duration
                level.worst_gap_excess = max(level.worst_gap_excess, excess)
                level.late += excess > LATE_SLACK
            start = stream.start_of(seg.index)
            if start is not None and pub.t0 != float("inf"):
                level.latencies.append(seg.listed - (pub.t0 + start))
