"""Encoding on S3 vs on local disk, in one run (issue 11).

    .venv/bin/python -m bench.encode_s3 [--quick] [--seconds 30] [--size 1920x1080] [--reps 2]
                                        [--workdir DIR] [--json FILE] [--wait-quiet 60]

Two platforms side by side, each an API server (uvicorn in this process, ``tests.conftest.start_server``)
and a real ``vsrc worker`` with ``VSRC_WORKERS=1``: one on local storage, one on a bucket of a moto
server started here (``bench.s3.moto_bucket``: an in-memory S3 protocol server in Python, in this
process, on the same box). The same cached source is uploaded to each, alternately, ``--reps`` times.
Per upload, from the 201: the first playable moment (every rung's playlist, read through the
platform's ``Storage`` every 50 ms, lists a segment: on S3 that means segment and playlist are in the
bucket) and ``completed`` (the API polled every 0.25 s). Target: S3 encode wall time ≤ local + 10 %.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import statistics
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


@dataclass
class Run:
    backend: str
    media_id: str
    first_playable: float | None
    completed: float
    load: float


@dataclass
class Results:
    machine: str
    date: str
    source: str
    rungs: list[str]
    runs: list[Run] = field(default_factory=list)


def _lists_segment(server: Server, key: str) -> bool:
    try:
        return b"#EXTINF" in b"".join(server.runtime.storage.read_range(key))
    except NotFound:
        return False


def encode_once(server: Server, key: str, source: Path, rungs: list[str], backend: str) -> Run:
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
        next_api = t0
        while True:
            now = time.monotonic()
            if now - t0 > 1800:
                raise RuntimeError(f"{media_id} did not finish in 30 min")
            if playable is None and all(
                _lists_segment(server, f"hls/{media_id}/{r}/index.m3u8") for r in rungs
            ):
                playable = time.monotonic() - t0
            if now >= next_api:
                next_api = now + API_POLL
                status = client.get(f"/api/v1/media/{media_id}").json()["data"]["encodingStatus"]
                if status in ("completed", "failed"):
                    if status == "failed":
                        raise RuntimeError(f"{backend}: {media_id} failed to encode")
                    done = time.monotonic() - t0
                    # Deleted right away: moto keeps every object in this process's memory.
                    client.delete(f"/api/v1/media/{media_id}")
                    return Run(backend, media_id, playable, done, os.getloadavg()[0])
            time.sleep(STORAGE_POLL)


def run(workdir: Path, args: argparse.Namespace) -> Results:
    source = make_source(args.cache, seconds=args.seconds, crf=26, size=args.size)
    info = probe(source)
    rungs = ladder_for(info, DEFAULT_PROFILE)
    res = Results(
        common.machine(),
        common.today(),
        f"{source.name} ({source.stat().st_size / 1e6:.0f} MB)",
        [f"{r.name} {r.width}x{r.height}" for r in rungs],
    )
    names = [r.name for r in rungs]
    print(f"# {res.machine}\n# {res.source}; ladder: {', '.join(res.rungs)}", flush=True)
    with contextlib.ExitStack() as stack:
        url, aws = stack.enter_context(moto_bucket())
        os.environ.update(aws)  # the worker processes inherit the credentials
        platforms: dict[str, tuple[Server, str]] = {}
        for backend, storage_url in (("local", None), ("s3", url)):
            server = start_server(workdir / f"data-{backend}", storage_url=storage_url)
            stack.callback(stop_server, server)
            worker = start_worker(server.settings, VSRC_WORKERS="1", VSRC_LOG_LEVEL="WARNING")
            stack.callback(stop_worker, worker)
            platforms[backend] = (server, server.key("write"))
        for rep in range(args.reps):
            order = ("local", "s3") if rep % 2 == 0 else ("s3", "local")
            for backend in order:
                server, key = platforms[backend]
                one = encode_once(server, key, source, names, backend)
                res.runs.append(one)
                playable = "-" if one.first_playable is None else f"{one.first_playable:.2f}"
                print(
                    f"{backend:5} rep {rep + 1}: first playable {playable} s, "
                    f"completed {one.completed:.2f} s (load {one.load:.1f})",
                    flush=True,
                )
    return res


def summary(res: Results) -> str:
    def med(backend: str, attr: str) -> float:
        values = [getattr(r, attr) for r in res.runs if r.backend == backend and getattr(r, attr) is not None]
        return statistics.median(values) if values else float("nan")

    local, s3 = med("local", "completed"), med("s3", "completed")
    fp_local, fp_s3 = med("local", "first_playable"), med("s3", "first_playable")
    overhead = s3 / local - 1
    verdict = "meets" if overhead <= TARGET_OVERHEAD else "misses"
    return (
        common.md_table(
            ["", "local", "S3 (moto)", "S3 / local"],
            [
                ["201 → completed (median s)", f"{local:.2f}", f"{s3:.2f}", f"{s3 / local:.3f}"],
                [
                    "201 → first playable (median s)",
                    f"{fp_local:.2f}",
                    f"{fp_s3:.2f}",
                    f"{fp_s3 / fp_local:.3f}",
                ],
            ],
        )
        + f"\n\nencode overhead on S3: {overhead * 100:+.1f} % "
        f"({verdict} the ≤ {TARGET_OVERHEAD * 100:.0f} % target)"
    )


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.encode_s3", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a 10 s 720p clip, one upload per backend")
    p.add_argument("--seconds", type=int, default=None, help="source length (default 30, quick 10)")
    p.add_argument("--size", default=None, help="source size (default 1920x1080, quick 1280x720)")
    p.add_argument(
        "--reps", type=int, default=None, help="uploads per backend, alternating (default 2, quick 1)"
    )
    p.add_argument("--cache", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "vsrc-bench-cache")
    common.add_run_options(p)
    args = p.parse_args()
    args.seconds = args.seconds or (10 if args.quick else 30)
    args.size = args.size or ("1280x720" if args.quick else "1920x1080")
    args.reps = args.reps or (1 if args.quick else 2)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    load = common.wait_for_quiet(args.wait_quiet)
    print(f"# load average at start {load:.1f} on {os.cpu_count()} CPUs", flush=True)
    res = common.in_workdir(args.workdir, "encode-s3", lambda wd: run(wd, args))
    print(summary(res))
    common.write_json(args.json, asdict(res))


if __name__ == "__main__":
    main()
