"""Measure the candidate fixes of `bench.whatif_app` against unpatched VSRC, on the API benchmark's data.

    .venv/bin/python -m bench.whatif [--concurrency 4] [--seconds 1.5] [--rounds 3] [--variants ...]

Same seed, endpoints, uvicorn settings and load client as `bench.api`; each variant is its own
`uvicorn bench.whatif_app:create --factory` process with ``BENCH_PATCHES`` set ("none" = VSRC as is;
"workers2" = two uvicorn worker processes). All variants run at once, measured in interleaved rounds.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

from bench import common
from bench.api import TARGET_P95_MS, endpoints, prepare
from bench.common import percentile
from bench.load import run_load

VARIANTS = [
    "none",
    "list-count",
    "deps",
    "list-count,deps",
    "list-count,deps,workers2",
]


def variant_server(env: dict[str, str], variant: str) -> common.ServerProcess:
    """``variant``: comma-separated BENCH_PATCHES, plus ``workers2`` for two uvicorn processes."""
    parts = [p for p in variant.split(",") if p not in ("none", "workers2")]
    port = common.free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.whatif_app:create",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--proxy-headers",
    ]
    if "workers2" in variant.split(","):
        argv += ["--workers", "2"]
    return common.ServerProcess(argv, {**env, "BENCH_PATCHES": ",".join(parts)}, port)


def run(workdir: Path, levels: list[int], seconds: float, variants: list[str], rounds: int) -> str:
    env, key, media_ids, result = prepare(workdir, 100_000, 1_000)
    paths = endpoints(media_ids)
    auth = {"Authorization": f"Bearer {key}"}
    latencies: dict[tuple[str, int, str], list[float]] = defaultdict(list)
    counts: dict[tuple[str, int, str], int] = defaultdict(int)
    with ExitStack() as stack:
        servers = {v: stack.enter_context(variant_server(env, v)) for v in variants}
        for round_ in range(rounds):
            print(f"round {round_ + 1}/{rounds}", flush=True)
            for concurrency in levels:
                for name, plist in paths.items():
                    for variant, server in servers.items():  # interleaved: variants share the noise
                        load = run_load(
                            server.url, plist, headers=auth, concurrency=concurrency, seconds=seconds
                        )
                        latencies[variant, concurrency, name] += load.latencies_ms
                        counts[variant, concurrency, name] += load.requests
    rows: list[list[object]] = []
    for (variant, concurrency, name), lat in latencies.items():
        p95 = percentile(lat, 95)
        rps = counts[variant, concurrency, name] / (seconds * rounds)
        rows.append(
            [
                variant,
                concurrency,
                name,
                f"{rps:.0f}",
                f"{percentile(lat, 50):.1f}",
                f"{p95:.1f}",
                "MET" if p95 < TARGET_P95_MS else "MISSED",
            ]
        )
    rows.sort(key=lambda r: (r[1], list(paths).index(str(r[2])), variants.index(str(r[0]))))
    header = [
        "patches",
        "concurrency",
        "endpoint",
        "req/s",
        "p50 ms",
        "p95 ms",
        f"p95 < {TARGET_P95_MS:.0f} ms",
    ]
    return (
        f"machine: {result.machine}; {result.date}; {rounds} interleaved rounds of {seconds:g}s each\n\n"
        f"{common.md_table(header, rows)}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", default="4")
    parser.add_argument("--seconds", type=float, default=1.5, help="seconds per round, endpoint and variant")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=VARIANTS)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="first wait up to this long for the load average to drop below CPUs/2",
    )
    args = parser.parse_args()
    load_start = common.wait_for_quiet(args.wait_quiet)
    levels = [int(c) for c in args.concurrency.split(",")]
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        text = run(args.workdir.resolve(), levels, args.seconds, args.variants, args.rounds)
    else:
        with tempfile.TemporaryDirectory(prefix="vsrc-bench-whatif-", dir=os.environ.get("TMPDIR")) as tmp:
            text = run(Path(tmp), levels, args.seconds, args.variants, args.rounds)
    print()
    print(f"load average {load_start:.2f} at start, {common.loadavg():.2f} at end")
    print(text)


if __name__ == "__main__":
    main()
