"""Live ingest benchmark (issue 4).

    .venv/bin/python -m bench.live [--quick] [--streams 1,2,4,8,16] [--window 15] [--sink pipe|packager]
                                   [--json FILE] [--markdown FILE]

Publishers: ``ffmpeg -re -stream_loop -1 -c copy`` of a pre-encoded 720p30 3 Mb/s (2 s GOP) + AAC FLV,
so publishing costs little CPU. For each stream count, interleaved:
  ours:   one Python process running ``vsrc.ingest.RtmpServer``; each stream's FLV piped into an
          ``ffmpeg -c copy`` live HLS remux (``build_live_hls_command``, ``LiveProfile(rungs=())``);
  ffmpeg: one ``ffmpeg -listen 1 -i rtmp://... -c copy -f hls`` per stream (same HLS settings).
Measured over a window after every stream has listed a segment: (i) CPU seconds of our Python
process only (``/proc/PID/stat`` utime+stime) vs the ffmpeg listeners', per stream per second;
(ii) late segments (listed more than duration + 1 s after the previous one); (iii) latency: from the
publisher sending a segment's first frame to the segment being listed (playlists polled every 50 ms).
Target (iii): <= segment length + 1 s = 3 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import common
from bench.live.run import LATE_SLACK, Bucket, Level, run_level
from bench.live.source import make_publish_source

SEGMENT_SECONDS = 2.0
TARGET_LATENCY = SEGMENT_SECONDS + 1.0
S3_TARGET = SEGMENT_SECONDS + 1.5  # live through object storage (docs/architecture.md, "Live ingest")
IMPLS = ("ours", "ffmpeg")


@dataclass
class Results:
    machine: str
    date: str
    command: str
    sink: str
    window: float
    levels: list[Level] = field(default_factory=list)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1, 2, 4 streams, 8 s windows")
    p.add_argument("--streams", default=None, help="comma list of stream counts (default 1,2,4,8,16)")
    p.add_argument("--window", type=float, default=None, help="measurement seconds per level (default 15)")
    p.add_argument(
        "--sink",
        choices=("pipe", "packager"),
        default="pipe",
        help="pipe: ProcessSink into the remux; packager: the platform's LivePackager (+ recording)",
    )
    p.add_argument(
        "--keep-going", action="store_true", help="do not stop an implementation after a late level"
    )
    p.add_argument(
        "--s3",
        action="store_true",
        help="also package with LivePackager into S3 (moto, in this process); latency read from the bucket",
    )
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "vsrc-bench-cache")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--markdown", type=Path, default=None, help="write the docs section here")
    args = p.parse_args()
    args.levels = [int(n) for n in (args.streams or ("1,2,4" if args.quick else "1,2,4,8,16")).split(",")]
    if args.window is None:
        args.window = 8.0 if args.quick else 15.0
    return args


def main() -> None:
    args = parse_args()
    res = Results(common.machine(), common.today(), _command(args), args.sink, args.window)
    print(f"# {res.machine}", flush=True)
    source = make_publish_source(args.cache)
    failed: set[str] = set()
    impls = ("ours", "s3", "ffmpeg") if args.s3 else IMPLS
    with tempfile.TemporaryDirectory(prefix="vsrc-bench-live-") as tmp, _bucket(args.s3) as bucket:
        for n in args.levels:
            for impl in impls:
                if impl in failed:
                    continue
                level = run_level(impl, n, source, Path(tmp), args.window, args.sink, bucket)
                res.levels.append(level)
                print(_line(level), flush=True)
                if not level.on_time and not args.keep_going:
                    failed.add(impl)
    text = report(res)
    print("\n" + text)
    if args.json:
        args.json.write_text(json.dumps(asdict(res), indent=2))
    if args.markdown:
        args.markdown.write_text(text + "\n")


@contextlib.contextmanager
def _bucket(wanted: bool) -> Iterator[Bucket | None]:
    """A real S3 protocol server (moto) on loopback with one bucket; its credentials go to the
    environment the ingest process inherits."""
    if not wanted:
        yield None
        return
    import boto3
    from moto.server import ThreadedMotoServer

    port = common.free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench-secret", NO_PROXY="127.0.0.1")
    try:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="vsrc-bench-live")
        yield Bucket(f"s3://vsrc-bench-live?endpoint={endpoint}&region=us-east-1", client, "vsrc-bench-live")
    finally:
        server.stop()


def _command(args: argparse.Namespace) -> str:
    cmd = ".venv/bin/python -m bench.live" + (" --quick" if args.quick else "")
    cmd += " --s3" if args.s3 else ""
    return cmd + (f" --sink {args.sink}" if args.sink != "pipe" else "")


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _line(lv: Level) -> str:
    return (
        f"{lv.impl:>6} x{lv.streams:<2} server {lv.per_stream(lv.server_cpu):5.1f} %/stream, "
        f"remux {lv.per_stream(lv.remux_cpu):4.1f} %/stream, segments {lv.segments}, late {lv.late}, "
        f"latency p50 {_s(lv.latency_median)} p95 {_s(lv.latency(95))} max {_s(lv.latency(100))} s, "
        f"load {lv.load:.1f}"
    )


def report(res: Results) -> str:
    by = {(lv.impl, lv.streams): lv for lv in res.levels}
    counts = sorted({lv.streams for lv in res.levels})
    cpu_rows, cap_rows = [], []
    for n in counts:
        ours, base = by.get(("ours", n)), by.get(("ffmpeg", n))
        ratio = f"{ours.server_cpu / base.server_cpu:.2f}" if ours and base and base.server_cpu > 0 else "-"
        total = (
            f"{(ours.server_cpu + ours.remux_cpu) / base.server_cpu:.2f}"
            if ours and base and base.server_cpu > 0
            else "-"
        )
        cpu_rows.append(
            [
                n,
                f"{ours.per_stream(ours.server_cpu):.2f}" if ours else "-",
                f"{ours.per_stream(ours.remux_cpu):.2f}" if ours else "-",
                f"{base.per_stream(base.server_cpu):.2f}" if base else "-",
                ratio,
                total,
            ]
        )
        for lv in (ours, by.get(("s3", n)), base):
            if lv:
                cap_rows.append(
                    [
                        lv.impl,
                        n,
                        f"{lv.started}/{n}",
                        lv.segments,
                        lv.late,
                        f"{lv.worst_gap_excess:+.2f}",
                        _s(lv.latency_median),
                        _s(lv.latency(95)),
                        _s(lv.latency(100)),
                        "yes" if lv.on_time else "**no**",
                        f"{lv.load:.1f}",
                    ]
                )
    out = [
        f"Sink: `{res.sink}`; {res.window:g} s measurement window per level; "
        "CPU in % of one core per stream.",
        "",
        common.md_table(
            [
                "streams",
                "ours: Python ingest",
                "ours: its ffmpeg remuxes",
                "ffmpeg -listen remux",
                "Python / ffmpeg",
                "(Python + remux) / ffmpeg",
            ],
            cpu_rows,
        ),
        "",
        common.md_table(
            [
                "impl",
                "streams",
                "started",
                "segments",
                "late",
                "worst gap - duration s",
                "latency p50 s",
                "p95 s",
                "max s",
                "on time",
                "load avg",
            ],
            cap_rows,
        ),
        "",
    ]
    out += _verdicts(res, by)
    return "\n".join(out)


def _verdicts(res: Results, by: dict[tuple[str, int], Level]) -> list[str]:
    lines = ["| metric | ours | ffmpeg -listen | target | verdict (ours) |", "|---|---|---|---|---|"]
    cap = {
        impl: max((lv.streams for lv in res.levels if lv.impl == impl and lv.on_time), default=0)
        for impl in IMPLS
    }
    tried = max((lv.streams for lv in res.levels), default=0)
    lines.append(
        f"| streams on time (of {tried} tried; late = listed > duration + {LATE_SLACK:g} s "
        f"after the previous) | {cap['ours']} | {cap['ffmpeg']} | as many as ffmpeg | "
        f"{'**met**' if cap['ours'] >= cap['ffmpeg'] else '**missed**'} |"
    )
    one_ours, one_base = by.get(("ours", 1)), by.get(("ffmpeg", 1))
    if one_ours and one_base:
        lines.append(
            "| CPU per 3 Mb/s stream, 1 stream (% of a core) "
            f"| {one_ours.per_stream(one_ours.server_cpu):.2f} "
            f"(+ {one_ours.per_stream(one_ours.remux_cpu):.2f} remux) "
            f"| {one_base.per_stream(one_base.server_cpu):.2f} | | |"
        )
        p95o, p95b = one_ours.latency(95), one_base.latency(95)
        if p95o is not None:
            lines.append(
                f"| latency p95, 1 stream | {p95o:.2f} s | {_s(p95b)} s | <= {TARGET_LATENCY:g} s "
                f"| {'**met**' if p95o <= TARGET_LATENCY else '**missed**'} |"
            )
    one_s3 = by.get(("s3", 1))
    p95s = one_s3.latency(95) if one_s3 else None
    if p95s is not None:
        lines.append(
            f"| latency p95, 1 stream, packaged into S3 (moto), listed in the bucket | {p95s:.2f} s | "
            f"| <= {S3_TARGET:g} s | {'**met**' if p95s <= S3_TARGET else '**missed**'} |"
        )
    return lines


if __name__ == "__main__":
    main()
