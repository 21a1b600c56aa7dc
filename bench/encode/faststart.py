"""Fast start (issue 9): first playable after the upload's 201, and what the levers cost.

    .venv/bin/python -m bench.encode [--quick] [--reps N] [--json FILE]

1. Total encode time, new vs old settings, same run: the platform's ffmpeg command for the 30 s
   noisy 1080p30 source with the default profile (a 1 s first segment, IDR on the segment grid)
   and with ``first_segment_seconds=0`` (the previous 2 s IDR grid, 4 s segments), interleaved
   ``--reps`` times; also first playable counted from ffmpeg's start.
2. The platform (a real API server and a real ``vsrc worker`` with ``VSRC_WORKERS=1``): first
   playable (every rung's playlist lists a segment, storage polled every 50 ms) after the 201 of
   the 30 s source, then of the long source (10 minutes: the 30 s source stream-copied in a loop;
   ``--quick``: 2 minutes), and, while that long encode runs, of a 20 s upload. The last case is
   run with three workers: the default (a fast-start lane that pauses the running encode until the
   newcomer is playable), a what-if worker whose lane does not pause anything (fair sharing,
   :mod:`bench.encode.worker` ``--no-pause``), and ``VSRC_FAST_START_LANES=0`` (the previous
   behaviour: the upload waits for the whole running encode; capped at ``--cap`` seconds).
Encodes that are not needed any more are deleted through the API (their ffmpeg is killed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from tests.conftest import Server, start_server, start_worker, stop_server, stop_worker

from bench import common
from bench.encode.direct import Timed, run_bare
from bench.encode.source import has_segment, make_source
from vsrc.media.commands import ffmpeg_exe
from vsrc.media.ladder import DEFAULT_PROFILE, ladder_for
from vsrc.media.probe import probe

REPO = Path(__file__).resolve().parents[2]
FS_POLL = 0.05
TARGET_S = 3.0
TARGET_BUSY_S = 6.0
TARGET_TOTAL = 0.05


@dataclass
class Results:
    machine: str
    date: str
    command: str
    load_start: float
    new: list[Timed] = field(default_factory=list)
    old: list[Timed] = field(default_factory=list)
    playable: dict[str, float | None] = field(default_factory=dict)
    upload_s: dict[str, float] = field(default_factory=dict)
    load_end: float = 0.0


def loop_source(short: Path, seconds: int) -> Path:
    """``short`` stream-copied in a loop to ``seconds`` (a real long file in seconds, cached)."""
    return common.cached_ffmpeg(
        short.with_name(f"{short.stem}_loop{seconds}s.mp4"),
        ["-stream_loop", "-1", "-i", str(short), "-c", "copy", "-t", str(seconds), "-movflags", "+faststart"],
        timeout=600,
    )


class Stack:
    """One API server; workers are started and stopped per phase."""

    def __init__(self, data_dir: Path) -> None:
        self.server: Server = start_server(data_dir)
        self.key = self.server.key("write")
        self.client = httpx.Client(
            base_url=self.server.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=600
        )
        self.worker: subprocess.Popen[bytes] | None = None

    def start_worker(self, mode: str) -> None:
        env = {"VSRC_WORKERS": "1", "VSRC_LOG_LEVEL": "WARNING"}
        if mode == "nopause":
            self.worker = subprocess.Popen(
                [sys.executable, "-m", "bench.encode.worker", "--no-pause"],
                env={**os.environ, "VSRC_DATA_DIR": str(self.server.settings.data_dir), **env},
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        else:
            lanes = "0" if mode == "nolane" else "1"
            self.worker = start_worker(self.server.settings, VSRC_FAST_START_LANES=lanes, **env)
        time.sleep(2)  # the consumer is up and polling (its start is not part of any measurement)

    def stop_worker(self) -> None:
        if self.worker is not None:
            stop_worker(self.worker)
            self.worker = None

    def upload(self, source: Path) -> tuple[str, float, float]:
        """(media id, monotonic time of the 201, seconds the upload took)."""
        with source.open("rb") as fh:
            t0 = time.monotonic()
            resp = self.client.post(
                "/api/v1/media/upload",
                files={"file": (source.name, fh, "video/mp4")},
                data={"title": source.stem},
            )
        t1 = time.monotonic()
        if resp.status_code != 201:
            raise RuntimeError(f"upload failed: {resp.status_code} {resp.text[:300]}")
        return str(resp.json()["data"]["mediaId"]), t1, t1 - t0

    def first_playable(self, media_id: str, rungs: list[str], t201: float, cap: float) -> float | None:
        hls = self.server.settings.storage_root / "hls" / media_id
        while time.monotonic() - t201 < cap:
            if all(has_segment(hls / r / "index.m3u8") for r in rungs):
                return time.monotonic() - t201
            time.sleep(FS_POLL)
        return None

    def delete(self, media_id: str) -> None:
        self.client.delete(f"/api/v1/media/{media_id}")

    def close(self) -> None:
        self.stop_worker()
        self.client.close()
        stop_server(self.server)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.encode", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2-minute long source, 1 rep, 30 s cap (< 5 min)")
    p.add_argument("--reps", type=int, default=None, help="old/new total-time pairs (default 2, quick 1)")
    p.add_argument("--long-seconds", type=int, default=None, help="long source (default 600, quick 120)")
    p.add_argument(
        "--cap", type=float, default=None, help="give up waiting after this (default 90, quick 30)"
    )
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "vsrc-bench-cache")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    args.reps = args.reps or (1 if args.quick else 2)
    args.long_seconds = args.long_seconds or (120 if args.quick else 600)
    args.cap = args.cap or (30.0 if args.quick else 90.0)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = ".venv/bin/python -m bench.encode" + (" --quick" if args.quick else "")
    res = Results(common.machine(), common.today(), command, os.getloadavg()[0])
    print(f"# {res.machine}\n# sources (cached in {args.cache}) ...", flush=True)
    src30 = make_source(args.cache, seconds=30, crf=26)
    src20 = make_source(args.cache, seconds=20, crf=26)
    long = loop_source(src30, args.long_seconds)
    info = probe(src30)
    rungs = ladder_for(info, DEFAULT_PROFILE)
    names = [r.name for r in rungs]
    old_profile = dataclasses.replace(DEFAULT_PROFILE, first_segment_seconds=0)
    ffmpeg = ffmpeg_exe()
    with tempfile.TemporaryDirectory(prefix="vsrc-bench-faststart-") as tmp:
        work = args.workdir or Path(tmp)
        for i in range(args.reps):
            for label, profile, into in (("old", old_profile, res.old), ("new", DEFAULT_PROFILE, res.new)):
                print(
                    f"[1] total encode, 30 s source, {label} settings [{i + 1}/{args.reps}] ...", flush=True
                )
                into.append(run_bare(ffmpeg, src30, info, rungs, profile, work / f"bare-{label}"))
                print(
                    f"    {into[-1].wall:.1f} s wall, {into[-1].cpu:.0f} s CPU, first playable "
                    f"{into[-1].first_playable or 0:.2f} s from ffmpeg start, load {into[-1].load:.1f}",
                    flush=True,
                )
        stack = Stack(work / "data")
        try:
            for mode in ("lane", "nopause", "nolane"):
                stack.start_worker(mode)
                if mode == "lane":
                    mid, t201, took = stack.upload(src30)
                    res.upload_s["30s"] = took
                    res.playable["30s"] = stack.first_playable(mid, names, t201, args.cap)
                    print(
                        f"[2] 30 s source: first playable {_s(res.playable['30s'])} after the 201", flush=True
                    )
                    stack.delete(mid)
                long_id, t201, took = stack.upload(long)
                res.upload_s[f"long {mode}"] = took
                res.playable[f"long {mode}"] = stack.first_playable(long_id, names, t201, args.cap)
                print(
                    f"[2] {args.long_seconds} s source ({mode}): first playable "
                    f"{_s(res.playable[f'long {mode}'])} (upload took {took:.1f} s)",
                    flush=True,
                )
                mid, t201, took = stack.upload(src20)
                res.playable[f"busy {mode}"] = stack.first_playable(mid, names, t201, args.cap)
                print(
                    f"[3] 20 s upload while the long encode runs ({mode}): first playable "
                    f"{_s(res.playable[f'busy {mode}'])}",
                    flush=True,
                )
                stack.delete(mid)
                stack.delete(long_id)
                stack.stop_worker()
        finally:
            stack.close()
    res.load_end = os.getloadavg()[0]
    text = report(res, args)
    print("\n" + text)
    if args.json:
        args.json.write_text(json.dumps(dataclasses.asdict(res), indent=2))


def _s(value: float | None) -> str:
    return "not within the cap" if value is None else f"{value:.2f} s"


def _best(runs: list[Timed], attr: str) -> float:
    return min(float(getattr(r, attr) or 0) for r in runs)


def report(res: Results, args: argparse.Namespace) -> str:
    cap = f"> {args.cap:.0f} s"
    rows = [
        ["30 s noisy 1080p30, default worker", _v(res.playable.get("30s"), cap), f"<= {TARGET_S:.0f} s"],
        [
            f"{args.long_seconds // 60} min 1080p30, default worker",
            _v(res.playable.get("long lane"), cap),
            f"<= {TARGET_S:.0f} s",
        ],
        [
            "20 s upload while the long encode runs: lane pauses the running encode (default)",
            _v(res.playable.get("busy lane"), cap),
            f"<= {TARGET_BUSY_S:.0f} s",
        ],
        ["same, lane without pausing (fair sharing, what-if)", _v(res.playable.get("busy nopause"), cap), ""],
        [
            "same, `VSRC_FAST_START_LANES=0` (before: waits for the running encode)",
            _v(res.playable.get("busy nolane"), cap),
            "",
        ],
    ]
    new_wall, old_wall = _best(res.new, "wall"), _best(res.old, "wall")
    new_cpu, old_cpu = _best(res.new, "cpu"), _best(res.old, "cpu")
    totals = [
        [
            "old: 2 s IDR grid, 4 s segments",
            " / ".join(f"{t.wall:.1f}" for t in res.old),
            " / ".join(f"{t.cpu:.0f}" for t in res.old),
            " / ".join(f"{t.first_playable or 0:.2f}" for t in res.old),
        ],
        [
            "new: 1 s first segment, IDR on the segment grid",
            " / ".join(f"{t.wall:.1f}" for t in res.new),
            " / ".join(f"{t.cpu:.0f}" for t in res.new),
            " / ".join(f"{t.first_playable or 0:.2f}" for t in res.new),
        ],
        [
            "new / old (best of each)",
            f"{new_wall / old_wall:.3f}",
            f"{new_cpu / old_cpu:.3f}",
            f"{_best(res.new, 'first_playable') / _best(res.old, 'first_playable'):.2f}",
        ],
    ]
    return "\n".join(
        [
            f"{res.date}, {res.machine}; load average {res.load_start:.1f} at the start, "
            f"{res.load_end:.1f} at the end.",
            "",
            "First playable after the upload's 201 (every rung's playlist lists a segment), `vsrc worker`, "
            "`VSRC_WORKERS=1`, 5 rungs 1080p..240p veryfast:",
            "",
            common.md_table(["case", "first playable", "target"], rows),
            "",
            "Total encode time of the 30 s source, the platform's ffmpeg command run directly "
            f"(target: new/old <= {1 + TARGET_TOTAL:.2f}):",
            "",
            common.md_table(["settings", "wall s", "CPU s", "first playable from ffmpeg start, s"], totals),
        ]
    )


def _v(value: float | None, cap: str) -> str:
    return cap if value is None else f"{value:.2f} s"


if __name__ == "__main__":
    main()
