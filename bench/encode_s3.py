"""Encoding on S3 vs on local disk, in one run (issue 11): the source downloaded first or read in place.

    .venv/bin/python -m bench.encode_s3 [--quick] [--seconds 30] [--long 120] [--size 1920x1080]
                                        [--crf 26] [--moov-end] [--reps 2] [--modes local,fetch,stream]
                                        [--workdir DIR] [--json FILE] [--wait-quiet 60]

Three platforms side by side, each an API server (uvicorn in this process, ``tests.conftest.start_server``)
and a real ``vsrc worker`` with ``VSRC_WORKERS=1``: one on local storage, two on a bucket of a moto
server started here (``bench.s3.moto_bucket``: an in-memory S3 protocol server in Python, in this
process, on the same box). **fetch**: the worker downloads the source before ffmpeg starts
(``VSRC_SOURCE_FETCH_MAX_BYTES`` above any source); **stream**: ffmpeg and PyAV read it in place
through a presigned URL with HTTP range requests (``0``, the default). The same cached source (and,
with ``--long``, a longer one) is uploaded to each, in rotating order, ``--reps`` times. Per upload,
from the 201: the first playable moment (every rung's playlist, read through the platform's
``Storage`` every 50 ms until it does, lists a segment: on S3 that means segment and playlist are in
the bucket),
``completed`` (the API polled every 0.25 s), and on S3 the GET requests moto answered for the
source object and the PUTs of the HLS objects (segments and playlists). Target: S3 encode wall
time ≤ local + 10 %.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from tests.conftest import Server, start_server, start_worker, stop_server, stop_worker

from bench import common
from bench.encode.source import make_source
from bench.s3 import moto_bucket
from vsrc.errors import NotFound
from vsrc.media.ladder import DEFAULT_PROFILE, ladder_for
from vsrc.media.probe import probe

TARGET_OVERHEAD = 0.10
STORAGE_POLL = 0.05
API_POLL = 0.25
# VSRC_SOURCE_FETCH_MAX_BYTES of each mode's worker.
MODES = {"local": None, "fetch": str(2**62), "stream": "0"}
LABELS = {"local": "local", "fetch": "S3 fetch first", "stream": "S3 read in place"}


@dataclass
class Run:
    source: str
    backend: str
    media_id: str
    first_playable: float | None
    completed: float | None
    source_gets: int | None
    hls_puts: int | None
    load: float


@dataclass
class Results:
    machine: str
    date: str
    sources: list[str]
    rungs: list[str]
    runs: list[Run] = field(default_factory=list)


class RequestCounter(logging.Handler):
    """Counts the requests moto (werkzeug, in this process) logs per path fragment."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._guard:
            self.lines.append(record.getMessage())

    def count(self, method: str, fragment: str) -> int:
        with self._guard:
            return sum(1 for line in self.lines if f"{method} /" in line and fragment in line)


def _lists_segment(server: Server, key: str) -> bool:
    try:
        return b"#EXTINF" in b"".join(server.runtime.storage.read_range(key))
    except NotFound:
        return False


def encode_once(
    server: Server,
    key: str,
    source: Path,
    rungs: list[str],
    backend: str,
    counter: RequestCounter,
    playable_only: bool = False,
) -> Run:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=600) as client:
        with source.open("rb") as fh:
            resp = client.post(
                "/api/v1/media/upload",
                files={"file": (source.name, fh, "video/mp4")},
                data={"title": "bench"},
            )
        t0 = time.monotonic()
        if resp.status_code != 201:
            raise RuntimeError(f"upload failed: {resp.status_code} {resp.text[:300]}")
        media_id = str(resp.json()["data"]["mediaId"])
        playable: float | None = None
        waiting = list(rungs)
        next_api = t0
        while True:
            now = time.monotonic()
            if now - t0 > 3600:
                raise RuntimeError(f"{media_id} did not finish in an hour")
            # A rung seen listing a segment is not read again (each read costs moto CPU on this box).
            waiting = [r for r in waiting if not _lists_segment(server, f"hls/{media_id}/{r}/index.m3u8")]
            if playable is None and not waiting:
                playable = time.monotonic() - t0
                if playable_only:  # deleted: the worker stops ffmpeg (heartbeat) and removes the outputs
                    client.delete(f"/api/v1/media/{media_id}")
                    return Run(source.name, backend, media_id, playable, None, None, None, os.getloadavg()[0])
            if now >= next_api:
                next_api = now + API_POLL
                status = client.get(f"/api/v1/media/{media_id}").json()["data"]["encodingStatus"]
                if status in ("completed", "failed"):
                    if status == "failed":
                        raise RuntimeError(f"{backend}: {media_id} failed to encode")
                    done = time.monotonic() - t0
                    gets = puts = None
                    if backend != "local":
                        gets = counter.count("GET", f"/media/{media_id}/")
                        puts = counter.count("PUT", f"/hls/{media_id}/")
                    # Deleted right away: moto keeps every object in this process's memory.
                    client.delete(f"/api/v1/media/{media_id}")
                    load = os.getloadavg()[0]
                    return Run(source.name, backend, media_id, playable, done, gets, puts, load)
            time.sleep(STORAGE_POLL)


def run(workdir: Path, args: argparse.Namespace) -> Results:
    lengths = [args.seconds] + ([args.long] if args.long else [])
    sources = [
        make_source(args.cache, seconds=n, crf=args.crf, size=args.size, faststart=not args.moov_end)
        for n in lengths
    ]
    extra = [Path(p) for p in args.playable_only]
    rungs = ladder_for(probe(sources[0]), DEFAULT_PROFILE)
    res = Results(
        common.machine(),
        common.today(),
        [f"{s.name} ({s.stat().st_size / 1e6:.0f} MB)" for s in sources + extra],
        [f"{r.name} {r.width}x{r.height}" for r in rungs],
    )
    names = [r.name for r in rungs]
    print(f"# {res.machine}\n# {'; '.join(res.sources)}; ladder: {', '.join(res.rungs)}", flush=True)
    counter = RequestCounter()
    moto_log = logging.getLogger("werkzeug")
    moto_log.setLevel(logging.INFO)
    moto_log.propagate = False  # counted, not printed
    moto_log.addHandler(counter)
    with contextlib.ExitStack() as stack:
        url, aws = stack.enter_context(moto_bucket())
        os.environ.update(aws)  # the worker processes inherit the credentials
        platforms: dict[str, tuple[Server, str]] = {}
        for mode in args.modes:
            storage_url = None if mode == "local" else url
            server = start_server(workdir / f"data-{mode}", storage_url=storage_url)
            stack.callback(stop_server, server)
            env = {"VSRC_WORKERS": "1", "VSRC_LOG_LEVEL": "WARNING"}
            if MODES[mode] is not None:
                env["VSRC_SOURCE_FETCH_MAX_BYTES"] = str(MODES[mode])
            worker = start_worker(server.settings, None, **env)
            stack.callback(stop_worker, worker)
            platforms[mode] = (server, server.key("write"))
        for source, only in [(s, False) for s in sources] + [(s, True) for s in extra]:
            if only and ladder_for(probe(source), DEFAULT_PROFILE) != rungs:
                raise SystemExit(f"{source}: --playable-only sources need the ladder of the first source")
            for rep in range(args.reps):
                shift = rep % len(args.modes)
                for mode in args.modes[shift:] + args.modes[:shift]:
                    server, key = platforms[mode]
                    one = encode_once(server, key, source, names, mode, counter, only)
                    res.runs.append(one)
                    playable = "-" if one.first_playable is None else f"{one.first_playable:.2f}"
                    gets = "" if one.source_gets is None else f", {one.source_gets} source GETs"
                    gets += "" if one.hls_puts is None else f", {one.hls_puts} HLS PUTs"
                    print(
                        f"{source.name} {mode:6} rep {rep + 1}: first playable {playable} s, "
                        f"completed {'-' if one.completed is None else f'{one.completed:.2f}'} s{gets} "
                        f"(load {one.load:.1f})",
                        flush=True,
                    )
    return res


def summary(res: Results) -> str:
    out = []
    for source in dict.fromkeys(r.source for r in res.runs):
        runs = [r for r in res.runs if r.source == source]
        modes = list(dict.fromkeys(r.backend for r in runs))

        def med(mode: str, attr: str, runs: list[Run] = runs) -> float:
            values = [getattr(r, attr) for r in runs if r.backend == mode and getattr(r, attr) is not None]
            return statistics.median(values) if values else float("nan")

        base = "local" if "local" in modes else modes[0]
        rows = []
        for attr, what in (
            ("completed", "201 → completed"),
            ("first_playable", "201 → first playable"),
        ):
            for mode in modes:
                value = med(mode, attr)
                if math.isnan(value):
                    continue  # not measured (--playable-only)
                rows.append([what, LABELS[mode], f"{value:.2f}", f"{value / med(base, attr):.3f}"])
        for mode in modes:
            if mode != "local" and not math.isnan(med(mode, "source_gets")):
                rows.append(["source GETs per encode", LABELS[mode], f"{med(mode, 'source_gets'):.0f}", ""])
                rows.append(["HLS PUTs per encode", LABELS[mode], f"{med(mode, 'hls_puts'):.0f}", ""])
        out.append(f"{source}\n\n" + common.md_table(["", "mode", "median s", f"/ {base}"], rows))
        if "local" in modes:
            for mode in modes:
                if mode != "local" and not math.isnan(med(mode, "completed")):
                    overhead = med(mode, "completed") / med("local", "completed") - 1
                    verdict = "meets" if overhead <= TARGET_OVERHEAD else "misses"
                    out.append(
                        f"encode overhead, {LABELS[mode]}: {overhead * 100:+.1f} % "
                        f"({verdict} the ≤ {TARGET_OVERHEAD * 100:.0f} % target)"
                    )
    return "\n\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.encode_s3", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a 10 s 720p clip, one upload per platform")
    p.add_argument("--seconds", type=int, default=None, help="source length (default 30, quick 10)")
    p.add_argument("--long", type=int, default=None, help="also a source of this many seconds")
    p.add_argument("--size", default=None, help="source size (default 1920x1080, quick 1280x720)")
    p.add_argument("--crf", type=int, default=26, help="source quality: lower makes larger files")
    p.add_argument("--moov-end", action="store_true", help="sources with the MP4 index at the end")
    p.add_argument(
        "--reps", type=int, default=None, help="uploads per platform, rotating (default 2, quick 1)"
    )
    p.add_argument("--modes", default="local,fetch,stream", help="platforms: local, fetch, stream")
    p.add_argument(
        "--playable-only",
        action="append",
        default=[],
        metavar="FILE",
        help="also upload FILE (same ladder) and measure only its first playable (deleted then)",
    )
    p.add_argument("--cache", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "vsrc-bench-cache")
    common.add_run_options(p)
    args = p.parse_args()
    args.seconds = args.seconds or (10 if args.quick else 30)
    args.size = args.size or ("1280x720" if args.quick else "1920x1080")
    args.reps = args.reps or (1 if args.quick else 2)
    args.modes = [m for m in args.modes.split(",") if m]
    if not args.modes or any(m not in MODES for m in args.modes):
        p.error(f"--modes: a comma-separated list of {', '.join(MODES)}")
    load = common.wait_for_quiet(args.wait_quiet)
    print(f"# load average at start {load:.1f} on {os.cpu_count()} CPUs", flush=True)
    res = common.in_workdir(args.workdir, "encode-s3", lambda wd: run(wd, args))
    print(summary(res))
    common.write_json(args.json, asdict(res))


if __name__ == "__main__":
    main()
