"""VOD encoding benchmarks.

    .venv/bin/python -m bench.encode [--quick] [--reps N] [--json FILE]      # fast start (issue 9)
    .venv/bin/python -m bench.encode --ladder [--quick] [--seconds 60] [--short-seconds 15] [--crf 26]
                                     [--no-whatif] [--json FILE] [--markdown FILE]   # issue 3

Without ``--ladder``: :mod:`bench.encode.faststart`. With it, the ladder benchmark of issue 3:

On one synthetic 1080p30 clip with motion and per-frame noise, default ladder (5 rungs, veryfast):
  (c) bare:     the platform's single ffmpeg command (``build_hls_command``) run directly;
  (b) naive:    one ffmpeg per rung, one after another (same per-rung settings);
  (a) platform: upload (201) -> ``completed`` through a real API server and a real ``vsrc worker``.
Targets: a/b <= 0.70, a/c - 1 <= 5 %, time to first playable (201 -> every rung playlist lists a
segment) < 6 s. The worker is started first and is idle while (c) and (b) run, as a production
worker waiting for uploads would be. With ``--whatif`` (default) (a) is repeated with the same
worker but Huey's idle polling capped at 0.5 s (see :mod:`bench.encode.worker`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import common
from bench.encode.direct import Timed, run_bare, run_naive
from bench.encode.platform import Platform, PlatformRun
from bench.encode.source import make_source
from vsrc.media.commands import ffmpeg_exe
from vsrc.media.ladder import DEFAULT_PROFILE, ladder_for
from vsrc.media.probe import probe

TARGET_RATIO_NAIVE = 0.70
TARGET_OVERHEAD = 0.05
TARGET_PLAYABLE_S = 6.0
WHATIF_MAX_DELAY = 0.5


@dataclass
class Results:
    machine: str
    date: str
    command: str
    seconds: int
    crf: int
    rungs: list[str]
    bare: Timed | None = None
    naive: Timed | None = None
    naive_rungs: list[Timed] = field(default_factory=list)
    platform: PlatformRun | None = None
    whatif: PlatformRun | None = None
    short_seconds: int = 0
    short_platform: PlatformRun | None = None
    short_whatif: PlatformRun | None = None
    repeats: int = 1
    bare_all: list[Timed] = field(default_factory=list)
    naive_all: list[Timed] = field(default_factory=list)
    platform_all: list[PlatformRun] = field(default_factory=list)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.encode --ladder", description=__doc__.split("\n\n")[0])
    p.add_argument("--ladder", action="store_true", help="the issue 3 ladder benchmark (this one)")
    p.add_argument("--quick", action="store_true", help="15 s clip, no short-clip run, no what-if")
    p.add_argument("--seconds", type=int, default=None, help="clip length (default 60, quick 15)")
    p.add_argument(
        "--short-seconds",
        type=int,
        default=None,
        help="second, shorter clip for time-to-first-playable only (default 15; 0 = skip)",
    )
    p.add_argument("--crf", type=int, default=26, help="x264 ultrafast CRF of the source (default 26)")
    p.add_argument("--no-whatif", action="store_true", help="skip the capped-polling worker runs")
    p.add_argument("--skip-naive", action="store_true")
    p.add_argument("--repeat", type=int, default=1, help="repeat (c), (b), (a); the best wall time counts")
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "vsrc-bench-cache")
    p.add_argument("--workdir", type=Path, default=None, help="keep outputs here (default: a temp dir)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--markdown", type=Path, default=None, help="write the docs section here")
    args = p.parse_args()
    if args.seconds is None:
        args.seconds = 15 if args.quick else 60
    if args.short_seconds is None:
        args.short_seconds = 0 if args.quick else 15
    args.whatif = not (args.no_whatif or args.quick)
    return args


def main() -> None:
    args = parse_args()
    ffmpeg = ffmpeg_exe()
    res = Results(common.machine(), common.today(), _command(args), args.seconds, args.crf, [])
    print(f"# {res.machine}\n# sources (cached in {args.cache}) ...", flush=True)
    source = make_source(args.cache, seconds=args.seconds, crf=args.crf)
    short = make_source(args.cache, seconds=args.short_seconds, crf=args.crf) if args.short_seconds else None
    info = probe(source)
    rungs = ladder_for(info, DEFAULT_PROFILE)
    res.rungs = [f"{r.name} {r.resolution} {r.video_bitrate // 1000}k" for r in rungs]
    names = [r.name for r in rungs]
    print(
        f"# {source.name}: {info.width}x{info.height} {info.duration:.1f} s, "
        f"{source.stat().st_size / 1e6:.0f} MB; ladder: {', '.join(res.rungs)}",
        flush=True,
    )

    with tempfile.TemporaryDirectory(prefix="vsrc-bench-encode-") as tmp:
        work = args.workdir or Path(tmp)
        # The worker starts first and idles through (c) and (b), like a production worker.
        with Platform(work / "data") as platform:
            res.repeats = args.repeat
            for i in range(args.repeat):
                print(f"(c) bare platform command [{i + 1}/{args.repeat}] ...", flush=True)
                res.bare_all.append(run_bare(ffmpeg, source, info, rungs, DEFAULT_PROFILE, work / "bare"))
                print(f"    {_fmt_timed(res.bare_all[-1])}", flush=True)
                if not args.skip_naive:
                    print("(b) one ffmpeg per rung, sequential ...", flush=True)
                    naive, per_rung = run_naive(ffmpeg, source, info, rungs, DEFAULT_PROFILE, work / "naive")
                    res.naive_all.append(naive)
                    if res.naive is None or naive.wall < res.naive.wall:
                        res.naive, res.naive_rungs = naive, per_rung
                    print(f"    {_fmt_timed(naive)}", flush=True)
                print("(a) platform end to end (idle `vsrc worker`) ...", flush=True)
                res.platform_all.append(platform.run(source, names))
                print(f"    {_fmt_run(res.platform_all[-1])}", flush=True)
            res.bare = min(res.bare_all, key=lambda t: t.wall)
            res.platform = min(res.platform_all, key=lambda r: r.total)
            if short is not None:
                res.short_seconds = args.short_seconds
                res.short_platform = platform.run(short, names)
                print(f"    {args.short_seconds} s clip: {_fmt_run(res.short_platform)}", flush=True)
        if args.whatif:
            with Platform(work / "data-whatif", worker_max_delay=WHATIF_MAX_DELAY) as whatif:
                print(f"(a') platform, worker polling capped at {WHATIF_MAX_DELAY} s ...", flush=True)
                res.whatif = whatif.run(source, names)
                print(f"    {_fmt_run(res.whatif)}", flush=True)
                if short is not None:
                    res.short_whatif = whatif.run(short, names)
                    print(f"    {args.short_seconds} s clip: {_fmt_run(res.short_whatif)}", flush=True)

    text = report(res)
    print("\n" + text)
    if args.json:
        args.json.write_text(json.dumps(asdict(res), indent=2))
    if args.markdown:
        args.markdown.write_text(text + "\n")


def _command(args: argparse.Namespace) -> str:
    return ".venv/bin/python -m bench.encode --ladder" + (" --quick" if args.quick else "")


def _fmt_timed(t: Timed) -> str:
    return f"{t.wall:.1f} s wall, {t.cpu:.0f} s CPU, first playable {_s(t.first_playable)}, load {t.load:.1f}"


def _fmt_run(run: PlatformRun) -> str:
    return (
        f"{run.status} in {run.total:.1f} s (pick-up {_s(run.pickup)}, first playable "
        f"{_s(run.first_playable)}, upload took {run.upload:.1f} s)"
    )


def _s(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f} s"


def _all(runs: list[Timed] | list[PlatformRun]) -> str:
    """``" (best of 12.0 / 13.1)"`` when there were several runs."""
    if len(runs) < 2:
        return ""
    walls = [r.wall if isinstance(r, Timed) else r.total for r in runs]
    return " (best of " + " / ".join(f"{w:.1f}" for w in walls) + ")"


def _ok(flag: bool) -> str:
    return "**met**" if flag else "**missed**"


def report(res: Results) -> str:
    """The results as Markdown: tables, ratios and verdicts."""
    rows: list[list[object]] = []
    if res.bare:
        rows.append(
            [
                f"(c) bare: the platform's ffmpeg command, run directly{_all(res.bare_all)}",
                f"{res.bare.wall:.1f}",
                f"{res.bare.cpu:.0f}",
                "",
                _s(res.bare.first_playable) + " (from ffmpeg start)",
                f"{res.bare.load:.1f}",
            ]
        )
    if res.naive:
        per = " + ".join(f"{t.wall:.1f}" for t in res.naive_rungs)
        rows.append(
            [
                f"(b) naive: one ffmpeg per rung, sequential ({per}){_all(res.naive_all)}",
                f"{res.naive.wall:.1f}",
                f"{res.naive.cpu:.0f}",
                "",
                "",
                f"{res.naive.load:.1f}",
            ]
        )
    runs = (
        (
            f"(a) platform: 201 -> completed, `vsrc worker`, {res.seconds} s clip{_all(res.platform_all)}",
            res.platform,
        ),
        (f"(a') same, worker polling capped at {WHATIF_MAX_DELAY} s", res.whatif),
        (f"(a) platform, {res.short_seconds} s clip", res.short_platform),
        (f"(a') same, {res.short_seconds} s clip", res.short_whatif),
    )
    for label, run in runs:
        if run:
            rows.append(
                [
                    label,
                    f"{run.total:.1f}",
                    f"{run.cpu:.0f}",
                    _s(run.pickup),
                    _s(run.first_playable),
                    f"{run.load:.1f}",
                ]
            )
    out = [
        f"Clip: {res.seconds} s 1080p30 testsrc2 + noise (alls=20, temporal) + 440 Hz sine, "
        f"x264 ultrafast crf {res.crf}. Ladder: {', '.join(res.rungs)}; veryfast, 4 s segments.",
        "",
        common.md_table(["run", "wall s", "CPU s", "queue pick-up", "first playable", "load avg"], rows),
        "",
    ]
    out += _verdicts(res)
    return "\n".join(out)


def _verdicts(res: Results) -> list[str]:
    lines = ["| metric | wall | CPU | target | verdict (wall) |", "|---|---|---|---|---|"]
    a, b, c = res.platform, res.naive, res.bare
    if a and b:
        ratio = a.total / b.wall
        lines.append(
            f"| a / b (platform vs one ffmpeg per rung) | {ratio:.2f} | {a.cpu / b.cpu:.2f} "
            f"| <= {TARGET_RATIO_NAIVE:.2f} | {_ok(ratio <= TARGET_RATIO_NAIVE)} |"
        )
    if c and b:
        lines.append(
            f"| c / b (the single-ffmpeg design alone) | {c.wall / b.wall:.2f} | {c.cpu / b.cpu:.2f} | | |"
        )
    for label, run in (("a", a), ("a'", res.whatif)):
        if run and c:
            over = run.total / c.wall - 1
            lines.append(
                f"| {label} / c - 1 (platform overhead) | {over:+.1%} | {run.cpu / c.cpu - 1:+.1%} "
                f"| <= +{TARGET_OVERHEAD:.0%} | {_ok(over <= TARGET_OVERHEAD)} |"
            )
            if run.pickup is not None and run.encoded is not None:
                lines.append(
                    f"| {label}: pick-up / ffmpeg (job start -> ENDLIST) / finish (-> completed) "
                    f"| {run.pickup:.1f} / {run.encoded - run.pickup:.1f} / {run.total - run.encoded:.1f} s "
                    "| | | |"
                )
            if run.pickup is not None:
                rest = (run.total - run.pickup) / c.wall - 1
                lines.append(f"| ({label} - pick-up) / c - 1 (job start -> completed) | {rest:+.1%} | | | |")
    for label, run, secs in (
        ("a", a, res.seconds),
        ("a'", res.whatif, res.seconds),
        ("a", res.short_platform, res.short_seconds),
        ("a'", res.short_whatif, res.short_seconds),
    ):
        if run and run.first_playable is not None:
            lines.append(
                f"| {label}: first playable, {secs} s clip (of which queue pick-up) | "
                f"{run.first_playable:.1f} s ({_s(run.pickup)}) | | < {TARGET_PLAYABLE_S:.0f} s "
                f"| {_ok(run.first_playable < TARGET_PLAYABLE_S)} |"
            )
    return lines


if __name__ == "__main__":
    if "--ladder" in sys.argv:
        main()
    else:
        from bench.encode import faststart

        faststart.main()
