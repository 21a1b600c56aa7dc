"""Live viewers per core (issue 9, target 4).

    .venv/bin/python -m bench.live_viewers [--quick] [--before DIR] [--levels 25,50,...] [--window S]

A real `vsrc api` and `vsrc ingest` (own data dir, local storage), a real ffmpeg publishing a 720p30
3 Mb/s stream (`-re`, stream-copied from a cached FLV) into the ingest, and N simulated HLS viewers
(bench/live_viewers_client.py: asyncio, raw keep-alive HTTP/1.1, one connection each) polling the
live variant playlist through the API every target duration and fetching each new segment. N
doubles from the first level until a level has a late segment (its last byte more than one target
duration after the playlist answer that listed it, or not fetched at all), then bisects
(``--refine`` steps). Reported: the most viewers with no late segment, and per core of the API
process (its utime+stime over the window, from /proc) and per CPU of the machine.

``--before DIR`` measures a second checkout first (e.g. ``git worktree add /tmp/vsrc-before
b136e17``): its ``src`` goes first on PYTHONPATH for its `vsrc` processes; same venv, same source,
same viewers, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from bench import common
from bench.live.procs import Publisher, cpu_seconds, stop, wait_listening
from bench.live.source import make_publish_source
from bench.live_viewers_client import Tally, run_viewers


@dataclass
class Level:
    viewers: int
    segments: int
    late: int
    failures: int
    p50: float
    p99: float
    worst: float
    api_cores: float  # CPU seconds of the API process per second of the window
    client_cores: float
    mbytes_per_s: float

    @property
    def ok(self) -> bool:
        return self.segments > 0 and self.late == 0 and self.failures == 0


@dataclass
class CodeRun:
    label: str
    code: str
    levels: list[Level] = field(default_factory=list)
    best: Level | None = None


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.live_viewers", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="levels from 20, 10 s windows, one refinement")
    p.add_argument("--levels", default=None, help="comma list of viewer counts (default: doubling)")
    p.add_argument("--start", type=int, default=None, help="first level of the doubling (default 25)")
    p.add_argument("--max", type=int, default=3200, help="stop doubling here")
    p.add_argument("--window", type=float, default=None, help="measured seconds per level (default 30)")
    p.add_argument("--refine", type=int, default=None, help="bisection steps after the first late level")
    p.add_argument("--rung", default="source", help="variant the viewers watch (source: 3 Mb/s)")
    p.add_argument("--before", type=Path, default=None, help="a checkout of the code to compare with")
    p.add_argument("--sources", type=int, default=1, help="viewer connections from 127.0.0.1..N")
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "vsrc-bench-cache")
    common.add_run_options(p)
    args = p.parse_args()
    args.window = args.window or (10.0 if args.quick else 30.0)
    args.start = args.start or (20 if args.quick else 25)
    args.refine = args.refine if args.refine is not None else (1 if args.quick else 2)
    return args


class Stack:
    """`vsrc api` + `vsrc ingest` + a publisher, for one checkout of the code."""

    def __init__(self, workdir: Path, code: Path | None, source: Path) -> None:
        self.rtmp_port, port = common.free_port(), common.free_port()
        extra = {"VSRC_RTMP_PORT": str(self.rtmp_port), "VSRC_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        self.env = common.vsrc_env(workdir / "data", **extra)
        if code is not None:
            self.env["PYTHONPATH"] = str(code.resolve() / "src")
        common.vsrc_cli(["migrate"], self.env)
        key = common.create_key(self.env)
        self.api = common.ServerProcess([common.VSRC, "api"], {**self.env, "VSRC_HTTP_PORT": str(port)}, port)
        self.api.start(timeout=90)
        self.ingest = subprocess.Popen([common.VSRC, "ingest"], env=self.env, stdin=subprocess.DEVNULL)
        self.publisher: Publisher | None = None
        try:
            wait_listening(self.rtmp_port, timeout=90)
            headers = {"Authorization": f"Bearer {key}"}
            live = httpx.post(f"{self.api.url}/api/v1/live", json={"title": "bench"}, headers=headers).json()
            self.media_id, stream_key = live["data"]["mediaId"], live["data"]["streamKey"]
            self.publisher = Publisher(source, f"rtmp://127.0.0.1:{self.rtmp_port}/live/{stream_key}")
        except BaseException:
            self.close()
            raise

    def _wait_ended(self, timeout: float = 30) -> None:
        """Let the ingest finish the publish (ENDLIST, recording stored) before it is stopped."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "#EXT-X-ENDLIST" in httpx.get(self.api.url + self.playlist("source")).text:
                return
            time.sleep(0.5)

    def playlist(self, rung: str) -> str:
        return f"/hls/{self.media_id}/{rung}/index.m3u8"

    def wait_live(self, rung: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            resp = httpx.get(self.api.url + self.playlist(rung))
            if resp.status_code == 200 and resp.text.count("#EXTINF") >= 3:
                return
            time.sleep(0.5)
        raise RuntimeError("the live playlist never listed three segments")

    def close(self) -> None:
        if self.publisher is not None:
            self.publisher.stop()
            self._wait_ended()
        stop(self.ingest)
        self.api.stop()


def measure(stack: Stack, n: int, args: argparse.Namespace) -> Level:
    sources = [f"127.0.0.{i + 1}" for i in range(args.sources)] if args.sources > 1 else []
    warmup = 4.0  # two polls: every viewer has joined and fetched its first segment
    api_before = cpu_seconds(stack.api.pid)
    client_before = time.process_time()
    started = time.monotonic()

    async def run() -> Tally:
        return await run_viewers(
            "127.0.0.1",
            stack.api.port,
            stack.playlist(args.rung),
            n,
            warmup=warmup,
            window=args.window,
            sources=sources,
        )

    tally = asyncio.run(run())
    elapsed = time.monotonic() - started
    # CPU over the whole run of the level (warm-up included) per second of it.
    api_cores = (cpu_seconds(stack.api.pid) - api_before) / elapsed
    client_cores = (time.process_time() - client_before) / elapsed
    lat = tally.lateness or [float("nan")]
    late = sum(1 for x in tally.lateness if x > tally.target)
    return Level(
        viewers=n,
        segments=len(tally.lateness),
        late=late,
        failures=tally.failures,
        p50=common.percentile(lat, 50),
        p99=common.percentile(lat, 99),
        worst=max(lat),
        api_cores=api_cores,
        client_cores=client_cores,
        mbytes_per_s=tally.bytes / args.window / 1e6,
    )


def ramp(stack: Stack, args: argparse.Namespace, run: CodeRun) -> None:
    def one(n: int) -> Level:
        level = measure(stack, n, args)
        run.levels.append(level)
        print(f"  {run.label}: {_row(level)}", flush=True)
        return level

    if args.levels:
        for n in (int(x) for x in args.levels.split(",")):
            one(n)
    else:
        good, bad, n = 0, 0, args.start
        while n <= args.max:
            if one(n).ok:
                good, n = n, n * 2
            else:
                bad = n
                break
        for _ in range(args.refine if bad else 0):
            mid = (good + bad) // 2
            if mid in (good, bad):
                break
            if one(mid).ok:
                good = mid
            else:
                bad = mid
    oks = [level for level in run.levels if level.ok]
    run.best = max(oks, key=lambda level: level.viewers) if oks else None


def _row(level: Level) -> str:
    verdict = "ok" if level.ok else "LATE"
    return (
        f"{level.viewers:5d} viewers  {level.segments:6d} segments  late {level.late + level.failures:4d}  "
        f"p50 {level.p50:5.2f}s p99 {level.p99:5.2f}s max {level.worst:5.2f}s  "
        f"API {level.api_cores:4.2f} cores  client {level.client_cores:4.2f} cores  "
        f"{level.mbytes_per_s:6.1f} MB/s  {verdict}"
    )


def run_code(label: str, code: Path | None, workdir: Path, source: Path, args: argparse.Namespace) -> CodeRun:
    run = CodeRun(label, str(code.resolve()) if code else "this checkout")
    stack = Stack(workdir / label, code, source)
    try:
        stack.wait_live(args.rung)
        ramp(stack, args, run)
    finally:
        stack.close()
    return run


def summary(run: CodeRun) -> str:
    cpus = os.cpu_count() or 1
    if run.best is None:
        return f"{run.label}: no level without late segments"
    best = run.best
    per_api_core = best.viewers / best.api_cores if best.api_cores > 0 else float("nan")
    return (
        f"{run.label} ({run.code}): {best.viewers} viewers with no late segment = "
        f"{per_api_core:.0f} per API core ({best.api_cores:.2f} cores busy), "
        f"{best.viewers / cpus:.0f} per CPU of this {cpus}-CPU machine"
    )


def main() -> None:
    args = parse_args()
    load = common.wait_for_quiet(args.wait_quiet)
    print(f"# {common.machine()}; load average {load:.2f} at start", flush=True)
    source = make_publish_source(args.cache)

    def body(workdir: Path) -> list[CodeRun]:
        runs = []
        if args.before is not None:
            runs.append(run_code("before", args.before, workdir, source, args))
        runs.append(run_code("current", None, workdir, source, args))
        return runs

    runs = common.in_workdir(args.workdir, "live-viewers", body)
    print()
    for run in runs:
        print(summary(run))
    if len(runs) == 2 and all(r.best for r in runs):
        before, current = runs[0].best, runs[1].best
        assert before is not None and current is not None
        print(f"current / before: {current.viewers / before.viewers:.2f}x viewers")
    print(f"load average at the end: {common.loadavg():.2f} (other work on this machine skews the numbers)")
    common.write_json(
        args.json,
        {
            "machine": common.machine(),
            "date": common.today(),
            "window": args.window,
            "rung": args.rung,
            "runs": [{**asdict(r), "best": asdict(r.best) if r.best else None} for r in runs],
        },
    )


if __name__ == "__main__":
    main()
