"""Segment delivery through the API from S3 vs from local disk: req/s and latency percentiles of the
same 2 s segments served by one API process on each backend, with the delivery cache on (the default)
and off (a library bigger than the cache: every request reads storage). S3 is a real S3 protocol
server (moto) on this machine, so the network cost of a real S3 is not in these numbers.

    .venv/bin/python -m bench.delivery_s3 [--seconds 5] [--concurrency 8] [--segments 20]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import boto3

from bench.common import (
    ServerProcess,
    add_run_options,
    free_port,
    in_workdir,
    loadavg,
    machine,
    md_table,
    today,
    vsrc_cli,
    vsrc_env,
    wait_for_quiet,
    write_json,
)
from bench.load import run_load

SEGMENT_BYTES = 486_000
MEDIA = "vod_00000000-0000-4000-8000-000000000001"
AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "NO_PROXY": "127.0.0.1,localhost",
}


def api(env: dict[str, str]) -> ServerProcess:
    """The app `vsrc api` runs (its factory and HTTP protocol), started directly by uvicorn."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "vsrc.api.app:app_from_env", "--factory", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--http", "vsrc.api.server:GuardedHttpProtocol", "--log-level", "warning"]
    return ServerProcess(argv, env, port, ready_path="/hls/resolve/none")


def run(work: Path, args: argparse.Namespace) -> dict[str, object]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto logs every request otherwise
    os.environ.update(AWS)
    s3_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    moto.start()
    try:
        endpoint = f"http://127.0.0.1:{s3_port}"
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="bench")
        local = work / "data" / "storage" / "hls" / MEDIA / "720p"
        local.mkdir(parents=True, exist_ok=True)
        paths = []
        for n in range(args.segments):
            body = os.urandom(SEGMENT_BYTES)
            name = f"seg_{n:05d}.ts"
            (local / name).write_bytes(body)
            client.put_object(Bucket="bench", Key=f"hls/{MEDIA}/720p/{name}", Body=body)
            paths.append(f"/hls/{MEDIA}/720p/{name}")
        env = vsrc_env(work / "data", **AWS)
        vsrc_cli(["migrate"], env)
        s3_url = f"s3://bench?endpoint={endpoint}&region=us-east-1"
        rows = []
        for backend, extra in (("local disk", {}), ("S3 (moto, loopback)", {"VSRC_STORAGE_URL": s3_url})):
            for cache in ("on", "off"):
                server_env = {**env, **extra, "VSRC_DELIVERY_CACHE_MB": "256" if cache == "on" else "0"}
                with api(server_env) as server:
                    result = run_load(
                        server.url, paths, headers={}, concurrency=args.concurrency, seconds=args.seconds
                    )
                rows.append(
                    {
                        "backend": backend,
                        "cache": cache,
                        "rps": result.rps,
                        "p50_ms": result.pct(50),
                        "p95_ms": result.pct(95),
                        "errors": result.errors,
                    }
                )
    finally:
        moto.stop()
    return {"date": today(), "machine": machine(), "load_after": loadavg(), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--segments", type=int, default=20)
    add_run_options(parser)
    args = parser.parse_args()
    load = wait_for_quiet(args.wait_quiet)
    result = in_workdir(args.workdir, "delivery-s3", lambda work: run(work, args))
    rows = result["rows"]
    assert isinstance(rows, list)
    local = {r["cache"]: r for r in rows if r["backend"] == "local disk"}
    table = [
        [
            r["backend"],
            r["cache"],
            f"{r['rps']:,.0f}",
            f"{r['p50_ms']:.1f}",
            f"{r['p95_ms']:.1f}",
            f"{r['p95_ms'] / local[r['cache']]['p95_ms']:.2f}",
            r["errors"],
        ]
        for r in rows
    ]
    print(
        f"\n{result['date']}; {result['machine']}; load {load:.2f} before, {result['load_after']:.2f} after"
    )
    print(f"{args.segments} segments of {SEGMENT_BYTES:,} B cycled, {args.concurrency} keep-alive clients\n")
    print(
        md_table(["storage", "delivery cache", "req/s", "p50 ms", "p95 ms", "p95 / local", "errors"], table)
    )
    write_json(args.json, {**result, "load_before": load})


if __name__ == "__main__":
    main()
