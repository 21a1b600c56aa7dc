"""Fast start (issue 9): the critical path from the upload's 201 to first playable, lever by lever.

    .venv/bin/python -m bench.encode.levers [--quick] [--reps N] [--json FILE]

One API server (uvicorn in this process) and, per run, a fresh worker (``bench.encode.worker``,
``VSRC_WORKERS=1``, log at INFO) that idles ``--idle`` seconds before the upload, as a production
worker waiting for uploads does. Configurations, interleaved ``--reps`` times on the 30 s noisy
1080p30 source: ``before`` (every lever below off), then each lever added in turn (``+doorbell``:
the enqueue wakes the worker; ``+probe``: the job reuses the upload's probe; ``+watch``: playable
detected on the segments; ``+warm``: the worker imports the encode path at start = ``after``). Each
run is cut when playable (the media is deleted, which stops its ffmpeg). Then on the long source
(10 minutes, ``--quick`` 2): ``before`` and ``after``; then one whole encode (201 -> completed) of
the 30 s source ``before`` and ``after`` (the total encode time ratio); then the idle worker's CPU.

The timeline of one run: the 201 (this process's clock), the worker's log lines (same clock: the
worker runs on this box) for the job's pick-up, the source info, ffmpeg's start and the job's
``playable`` (when ``media.playable`` is recorded: what the API and webhooks see), and the storage
folder read every 20 ms for the first segment of each rung (first playable = all of them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from tests.conftest import service_env, start_server, stop_server, stop_worker

from bench import common
from bench.encode.faststart import loop_source
from bench.encode.platform import process_cpu
from bench.encode.source import has_segment, make_source
from bench.encode.worker import LEVERS
from vsrc.media.ladder import DEFAULT_PROFILE, ladder_for
from vsrc.media.probe import probe

REPO = Path(__file__).resolve().parents[2]
FS_POLL = 0.02
CONFIGS: list[tuple[str, tuple[str, ...]]] = [
    ("before", LEVERS),
    ("+doorbell", LEVERS[1:]),
    ("+probe", LEVERS[2:]),
    ("+watch", LEVERS[3:]),
    ("+warm (after)", ()),
]
# (log pattern, timeline key); the first match after the upload counts.
MARKS = (
    (r"Executing vsrc\.tasks\.jobs\.encode_media", "dequeued"),
    (r"encode {id}: picked up", "claimed"),
    (r"encode {id}: source (info from|probed)", "source info"),
    (r"encode {id}: ffmpeg started", "ffmpeg started"),
    (r"encode {id}: playable \d", "playable recorded"),
)
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


@dataclass
class Run:
    config: str
    source: str
    t: dict[str, float | None]  # seconds after the 201
    rungs: dict[str, float | None]  # first segment listed, seconds after the 201
    watch_cpu_ms: float | None = None
    total: float | None = None  # 201 -> completed (whole-encode runs only)
    cpu: float | None = None  # the worker's CPU seconds with its ffmpeg (whole-encode runs only)


@dataclass
class Results:
    machine: str
    date: str
    command: str
    load_start: float
    runs: list[Run] = field(default_factory=list)
    idle_cpu: dict[str, float] = field(default_factory=dict)  # % of one core
    load_end: float = 0.0


class Bench:
    def __init__(self, data_dir: Path, rungs: list[str], idle: float) -> None:
        self.server = start_server(data_dir)
        self.key = self.server.key("write")
        self.client = httpx.Client(
            base_url=self.server.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=900
        )
        self.rungs, self.idle = rungs, idle
        self.log = data_dir / "bench-worker.log"

    def worker(self, without: tuple[str, ...], **env: str) -> subprocess.Popen[bytes]:
        """A started worker whose encode consumer runs, then idled ``self.idle`` s."""
        start = self.log.stat().st_size if self.log.exists() else 0
        proc = self._spawn(without, **env)
        deadline = time.monotonic() + 300
        while "Huey consumer started" not in self._tail(start):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start: {self._tail(start)[-2000:]}")
            time.sleep(0.1)
        time.sleep(self.idle)
        return proc

    def _tail(self, offset: int) -> str:
        with self.log.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode(errors="replace")

    def _spawn(self, without: tuple[str, ...], **env: str) -> subprocess.Popen[bytes]:
        full = {
            **os.environ,
            **service_env(self.server.settings),
            "VSRC_WORKERS": "1",
            "VSRC_LOG_LEVEL": "INFO",
        }
        with self.log.open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "bench.encode.worker", "--without", ",".join(without)],
                env={**full, **env},
                cwd=REPO,
                stdout=log,
                stderr=log,
            )

    def run(self, config: str, without: tuple[str, ...], source: Path, *, whole: bool = False) -> Run:
        worker = self.worker(without)
        try:
            offset = self.log.stat().st_size
            with source.open("rb") as fh:
                resp = self.client.post(
                    "/api/v1/media/upload",
                    files={"file": (source.name, fh, "video/mp4")},
                    data={"title": f"levers {config}"},
                )
            t201 = time.time()
            if resp.status_code != 201:
                raise RuntimeError(f"upload failed: {resp.status_code} {resp.text[:300]}")
            media_id = str(resp.json()["data"]["mediaId"])
            cpu0 = process_cpu(worker.pid)
            rungs = self._first_segments(media_id, t201)
            run = Run(config, source.name, {}, rungs)
            if whole:
                self._until_done(media_id)
                run.total = time.time() - t201
                run.cpu = process_cpu(worker.pid) - cpu0
            # The job records playable when it notices (without the watch: at a progress report).
            deadline = time.monotonic() + 60
            while f"encode {media_id}: playable " not in self._tail(offset) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.2)
            self._timeline(run, media_id, t201, offset)
            self.client.delete(f"/api/v1/media/{media_id}")
            return run
        finally:
            stop_worker(worker)

    def _first_segments(self, media_id: str, t201: float, cap: float = 300) -> dict[str, float | None]:
        hls = self.server.settings.storage_root / "hls" / media_id
        seen: dict[str, float | None] = dict.fromkeys(self.rungs)
        while time.time() - t201 < cap and None in seen.values():
            for name, at in seen.items():
                if at is None and has_segment(hls / name / "index.m3u8"):
                    seen[name] = time.time() - t201
            time.sleep(FS_POLL)
        return seen

    def _until_done(self, media_id: str, cap: float = 1800) -> None:
        deadline = time.time() + cap
        while time.time() < deadline:
            status = self.client.get(f"/api/v1/media/{media_id}").json()["data"]["encodingStatus"]
            if status in ("completed", "failed"):
                return
            time.sleep(0.25)
        raise RuntimeError(f"{media_id} did not finish in {cap} s")

    def _timeline(self, run: Run, media_id: str, t201: float, offset: int) -> None:
        with self.log.open("rb") as fh:
            fh.seek(offset)
            lines = fh.read().decode(errors="replace").splitlines()
        for pattern, key in MARKS:
            regex = re.compile(pattern.format(id=re.escape(media_id)))
            run.t[key] = next((_stamp(line) - t201 for line in lines if regex.search(line)), None)
        watch = re.compile(rf"encode {re.escape(media_id)}: playable watch ended .* ([\d.]+) ms CPU")
        run.watch_cpu_ms = next((float(m.group(1)) for line in lines if (m := watch.search(line))), None)

    def idle_cpu(self, label: str, without: tuple[str, ...], seconds: float, **env: str) -> float:
        worker = self.worker(without, **env)
        try:
            time.sleep(10)  # the first minute's periodic tasks and the rest of the start-up
            cpu0, t0 = process_cpu(worker.pid), time.monotonic()
            time.sleep(seconds)
            return 100 * (process_cpu(worker.pid) - cpu0) / (time.monotonic() - t0)
        finally:
            stop_worker(worker)

    def close(self) -> None:
        self.client.close()
        stop_server(self.server)


def _stamp(line: str) -> float:
    m = _STAMP.match(line)
    return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() if m else float("inf")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.encode.levers", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2-minute long source, 1 rep")
    p.add_argument("--reps", type=int, default=None, help="interleaved repetitions (default 3, quick 1)")
    p.add_argument("--long-seconds", type=int, default=None, help="long source (default 600, quick 120)")
    p.add_argument("--idle", type=float, default=3.0, help="seconds the worker idles before the upload")
    p.add_argument("--idle-seconds", type=float, default=30.0, help="idle CPU measurement per variant")
    p.add_argument("--no-whole", action="store_true", help="skip the whole-encode before/after pair")
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "vsrc-bench-cache")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    args.reps = args.reps or (1 if args.quick else 3)
    args.long_seconds = args.long_seconds or (120 if args.quick else 600)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = ".venv/bin/python -m bench.encode.levers" + (" --quick" if args.quick else "")
    res = Results(common.machine(), common.today(), command, os.getloadavg()[0])
    print(f"# {res.machine}\n# sources (cached in {args.cache}) ...", flush=True)
    src30 = make_source(args.cache, seconds=30, crf=26)
    long = loop_source(src30, args.long_seconds)
    names = [r.name for r in ladder_for(probe(src30), DEFAULT_PROFILE)]
    with tempfile.TemporaryDirectory(prefix="vsrc-bench-levers-") as tmp:
        bench = Bench(Path(tmp) / "data", names, args.idle)
        try:
            for i in range(args.reps):
                for config, without in CONFIGS:
                    res.runs.append(bench.run(config, without, src30))
                    print(f"[{i + 1}/{args.reps}] 30 s, {config}: {_line(res.runs[-1])}", flush=True)
            for config, without in (CONFIGS[0], CONFIGS[-1]):
                res.runs.append(bench.run(config, without, long))
                print(f"{args.long_seconds} s, {config}: {_line(res.runs[-1])}", flush=True)
            if not args.no_whole:
                for config, without in (CONFIGS[0], CONFIGS[-1]):
                    res.runs.append(bench.run(config, without, src30, whole=True))
                    run = res.runs[-1]
                    print(f"whole 30 s, {config}: {run.total:.1f} s, {run.cpu:.0f} CPU s", flush=True)
            for label, without, env in (
                ("doorbell, poll 0.5 s (default)", (), {}),
                ("poll 0.5 s, no doorbell (before)", ("doorbell",), {}),
                (
                    "poll 0.05 s, no doorbell (the alternative)",
                    ("doorbell",),
                    {"VSRC_QUEUE_POLL_SECONDS": "0.05"},
                ),
            ):
                res.idle_cpu[label] = bench.idle_cpu(label, without, args.idle_seconds, **env)
                print(f"idle CPU, {label}: {res.idle_cpu[label]:.2f} % of a core", flush=True)
        finally:
            bench.close()
    res.load_end = os.getloadavg()[0]
    print("\n" + report(res, args))
    if args.json:
        args.json.write_text(json.dumps(dataclasses.asdict(res), indent=2))


def _line(run: Run) -> str:
    return ", ".join(f"{k} {_s(v)}" for k, v in run.t.items()) + f"; first playable {_s(_playable(run))}"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _playable(run: Run) -> float | None:
    values = list(run.rungs.values())
    return None if None in values else max(v for v in values if v is not None)


def _median(values: list[float]) -> float | None:
    values = sorted(values)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def report(res: Results, args: argparse.Namespace) -> str:
    keys = [key for _, key in MARKS]
    rows = []
    for config, _ in CONFIGS:
        runs = [
            r for r in res.runs if r.config == config and r.source.endswith("_crf26.mp4") and r.total is None
        ]
        cells = [config, str(len(runs))]
        for key in keys:
            cells.append(_s(_median([v for r in runs if (v := r.t.get(key)) is not None])))
        cells.append(" / ".join(_s(_playable(r)) for r in runs))
        cells.append(_s(_median([v for r in runs if (v := _playable(r)) is not None])))
        rows.append(cells)
    long_rows = [
        [r.config, *(_s(r.t.get(k)) for k in keys), _s(_playable(r))]
        for r in res.runs
        if not r.source.endswith("_crf26.mp4")
    ]
    whole = {r.config: r for r in res.runs if r.total is not None}
    out = [
        f"{res.date}, {res.machine}; load average {res.load_start:.1f} at the start, "
        f"{res.load_end:.1f} at the end.",
        "",
        "30 s noisy 1080p30, 5 rungs: seconds after the 201 (medians; first playable = every rung's "
        "playlist lists a segment, read from storage every 20 ms):",
        "",
        common.md_table(["config", "runs", *keys, "first playable (each)", "first playable (median)"], rows),
        "",
        f"{args.long_seconds} s source (the 30 s one looped):",
        "",
        common.md_table(["config", *keys, "first playable"], long_rows),
    ]
    if len(whole) == 2:
        before, after = whole[CONFIGS[0][0]], whole[CONFIGS[-1][0]]
        assert before.total and after.total and before.cpu and after.cpu
        out += [
            "",
            f"Whole encode of the 30 s source, 201 -> completed: before {before.total:.1f} s "
            f"({before.cpu:.0f} CPU s), after {after.total:.1f} s ({after.cpu:.0f} CPU s): "
            f"ratio {after.total / before.total:.3f} wall, {after.cpu / before.cpu:.3f} CPU.",
        ]
    cpu = [r.watch_cpu_ms for r in res.runs if r.watch_cpu_ms is not None]
    if cpu:
        out += ["", f"Playable watch thread: {min(cpu):.1f}-{max(cpu):.1f} ms CPU per encode."]
    out += ["", "Idle worker CPU (% of one core, over the measured seconds):", ""]
    out.append(common.md_table(["variant", "idle CPU %"], [[k, f"{v:.2f}"] for k, v in res.idle_cpu.items()]))
    return "\n".join(out)


if __name__ == "__main__":
    main()
