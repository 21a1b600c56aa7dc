"""Upload benchmark: a ~1 GiB real MP4 streamed to `vsrc api` over loopback vs a plain `cp`.

    .venv/bin/python -m bench.upload [--reps 5] [--client curl|httpx] [--s3] [--workdir DIR] [--json FILE]

``--s3`` adds a step: the same upload to a second API process storing into S3 (a moto server the
bench starts, bench/s3.py), so that S3 and local disk are compared in one run.

Per repetition, interleaved (order rotated each repetition) so that they share the machine's
noise: `cp` of the file (the baseline; median of 3 copies); the same upload to a bare ASGI app
on the same uvicorn that drops the body ("drain": the transport floor) and to one that writes it
to disk ("write");
then the real `POST /api/v1/media/upload`, while the server's VmRSS is sampled every 20 ms.
Reports medians, upload/cp (target >= 0.5) and the server's peak RSS growth (target < 64 MiB).
`sync` runs before each timed step (nothing is evicted from the page cache).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from bench import common
from bench.rss import RssSampler, status_kib
from bench.upload_client import CLIENTS, Client
from bench.videogen import GIB, big_video, seed_clip

MIB = 1024**2
TARGET_RATIO = 0.5
TARGET_RSS_MIB = 64.0
UPLOAD_PATH = "/api/v1/media/upload"
STEPS = ["cp", "drain", "write", "upload"]
CP_RUNS = 3


@dataclass
class Rep:
    cp: float  # MiB/s of each step
    drain: float
    write: float
    upload: float
    status: int
    rss_growth_mib: float
    hwm_growth_mib: float
    s3: float = 0.0  # MiB/s of the upload to the API on S3 (--s3)
    s3_status: int = 0
    s3_hwm_growth_mib: float = 0.0


@dataclass
class Result:
    machine: str
    date: str
    client: str
    file_bytes: int
    reps: list[Rep] = field(default_factory=list)
    load_start: float = 0.0
    load_end: float = 0.0

    def med(self, name: str) -> float:
        return common.median([float(getattr(r, name)) for r in self.reps])

    @property
    def ratio(self) -> float:
        return self.med("upload") / self.med("cp")

    @property
    def rss_growth_max(self) -> float:
        return max(r.rss_growth_mib for r in self.reps)


def _sync() -> None:
    subprocess.run(["sync"], check=False)


def time_cp(src: Path, dst: Path) -> float:
    """Seconds for ``cp src dst`` (the copy is removed afterwards)."""
    _sync()
    start = time.perf_counter()
    subprocess.run(["cp", str(src), str(dst)], check=True)
    seconds = time.perf_counter() - start
    dst.unlink()
    return seconds


def delete_media(base_url: str, key: str, media_id: str | None) -> None:
    if media_id:
        httpx.delete(
            f"{base_url}/api/v1/media/{media_id}", headers={"Authorization": f"Bearer {key}"}, timeout=60
        )


def make_video(workdir: Path) -> tuple[Path, Path]:
    print(f"making a ~1 GiB MP4 under {workdir} ...", flush=True)
    start = time.perf_counter()
    seed = seed_clip(workdir / "seed.mp4")
    video = big_video(workdir / "video.mp4", seed, size=GIB)
    print(f"  {video.stat().st_size / MIB:.0f} MiB in {time.perf_counter() - start:.1f}s", flush=True)
    return seed, video


def start_s3_api(workdir: Path, stack: contextlib.ExitStack) -> tuple[common.ServerProcess, str]:
    """An API process on a moto bucket (its own data dir), warmed up; returns it and a write key."""
    from bench.s3 import moto_bucket, vsrc_api_factory

    url, aws = stack.enter_context(moto_bucket())
    env = common.vsrc_env(workdir / "data-s3", VSRC_STORAGE_URL=url, **aws)
    # `vsrc migrate` and `vsrc keys` need no media storage: the CLI runs them on S3 too.
    common.vsrc_cli(["migrate"], env)
    key = common.create_key(env)
    server = vsrc_api_factory(env).start(timeout=180)  # a loaded machine imports boto3 slowly
    stack.callback(server.stop)
    return server, key


def run(workdir: Path, reps: int, client_name: str, s3: bool = False) -> Result:
    upload: Client = CLIENTS[client_name]
    seed, video = make_video(workdir)
    size = video.stat().st_size
    mib = size / MIB
    env = common.vsrc_env(workdir / "data")
    common.vsrc_cli(["migrate"], env)
    key = common.create_key(env)
    copy = workdir / "copy.mp4"
    time_cp(video, copy)  # warm the page cache and the target blocks
    result = Result(common.machine(), common.today(), client_name, size)

    reference = common.uvicorn_app("bench.drain_app:app")
    reference.env["BENCH_DRAIN_DIR"] = str(workdir)
    steps = [*STEPS, "s3"] if s3 else STEPS
    with reference, common.vsrc_api(env) as server, contextlib.ExitStack() as stack:
        warm = upload(server.url + UPLOAD_PATH, key, seed)  # the first upload imports PyAV: not measured
        print(f"  warm-up upload of the {seed.stat().st_size / MIB:.0f} MiB seed: HTTP {warm.status}")
        delete_media(server.url, key, warm.media_id)
        if s3:
            s3_server, s3_key = start_s3_api(workdir, stack)
            warm = upload(s3_server.url + UPLOAD_PATH, s3_key, seed)
            print(f"  warm-up upload to the API on S3: HTTP {warm.status}")
            delete_media(s3_server.url, s3_key, warm.media_id)
        for i in range(reps):
            seconds: dict[str, float] = {}
            status, growth, hwm_growth = 0, 0.0, 0.0
            s3_status, s3_hwm = 0, 0.0
            for step in steps[i % len(steps) :] + steps[: i % len(steps)]:  # rotate: no step always first
                _sync()
                if step == "cp":  # the noisiest step (page-cache allocation): median of 3
                    seconds[step] = common.median([time_cp(video, copy) for _ in range(CP_RUNS)])
                elif step in ("drain", "write"):
                    seconds[step] = upload(f"{reference.url}/{step}", key, video).seconds
                elif step == "s3":
                    hwm_before = status_kib(s3_server.pid, "VmHWM")
                    real = upload(s3_server.url + UPLOAD_PATH, s3_key, video)
                    s3_hwm = (status_kib(s3_server.pid, "VmHWM") - hwm_before) / 1024
                    seconds[step], s3_status = real.seconds, real.status
                    delete_media(s3_server.url, s3_key, real.media_id)  # frees moto's memory
                else:
                    hwm_before = status_kib(server.pid, "VmHWM")
                    with RssSampler(server.pid) as sampler:
                        real = upload(server.url + UPLOAD_PATH, key, video)
                    hwm_growth = (status_kib(server.pid, "VmHWM") - hwm_before) / 1024
                    seconds[step], status, growth = real.seconds, real.status, sampler.growth_mib
                    delete_media(server.url, key, real.media_id)
                    if real.status != 201:
                        print(f"    answer: {json.dumps(real.body)[:300]}")
            rep = Rep(
                mib / seconds["cp"],
                mib / seconds["drain"],
                mib / seconds["write"],
                mib / seconds["upload"],
                status,
                growth,
                hwm_growth,
                mib / seconds["s3"] if s3 else 0.0,
                s3_status,
                s3_hwm,
            )
            result.reps.append(rep)
            print(
                f"  rep {i + 1}: cp {rep.cp:.0f}, drain {rep.drain:.0f}, write {rep.write:.0f}, "
                f"upload {rep.upload:.0f} MiB/s (HTTP {rep.status}); "
                f"server RSS +{rep.rss_growth_mib:.1f} MiB"
                + (
                    f"; S3 upload {rep.s3:.0f} MiB/s (HTTP {rep.s3_status}, VmHWM +{s3_hwm:.1f} MiB)"
                    if s3
                    else ""
                ),
                flush=True,
            )
    return result


def report(res: Result) -> str:
    rows = [
        [
            i + 1,
            f"{r.cp:.0f}",
            f"{r.drain:.0f}",
            f"{r.write:.0f}",
            f"{r.upload:.0f}",
            r.status,
            f"{r.upload / r.cp:.2f}",
            f"{r.rss_growth_mib:.1f}",
            f"{r.hwm_growth_mib:.1f}",
        ]
        for i, r in enumerate(res.reps)
    ]
    rows.append(
        [
            "**median**",
            *(f"{res.med(n):.0f}" for n in ("cp", "drain", "write", "upload")),
            "",
            f"**{res.ratio:.2f}**",
            f"max {res.rss_growth_max:.1f}",
            "",
        ]
    )
    table = common.md_table(
        [
            "rep",
            "cp MiB/s",
            "uvicorn drain MiB/s",
            "uvicorn write MiB/s",
            "vsrc upload MiB/s",
            "HTTP",
            "upload/cp",
            "server RSS growth MiB",
            "VmHWM growth MiB",
        ],
        rows,
    )
    ok_ratio = res.ratio >= TARGET_RATIO
    ok_rss = res.rss_growth_max < TARGET_RSS_MIB
    s3_lines = []
    if res.reps and res.reps[0].s3:
        s3_lines = [
            f"- S3 (moto) upload: median {res.med('s3'):.0f} MiB/s, S3/local upload = "
            f"{res.med('s3') / res.med('upload'):.2f} (per repetition "
            f"{min(r.s3 / r.upload for r in res.reps):.2f} .. {max(r.s3 / r.upload for r in res.reps):.2f}); "
            f"HTTP {sorted({r.s3_status for r in res.reps})}; API VmHWM growth max "
            f"{max(r.s3_hwm_growth_mib for r in res.reps):.1f} MiB",
        ]
    return "\n".join(
        [
            f"machine: {res.machine}; {res.date}; load average {res.load_start:.2f} at start, "
            f"{res.load_end:.2f} at end",
            f"file: {res.file_bytes / MIB:.0f} MiB real H.264 MP4, client {res.client}, {len(res.reps)} reps",
            "",
            table,
            "",
            f"- upload/cp = {res.ratio:.2f} (target >= {TARGET_RATIO}): {'MET' if ok_ratio else 'MISSED'}",
            f"- per-repetition upload/cp: {min(r.upload / r.cp for r in res.reps):.2f} .. "
            f"{max(r.upload / r.cp for r in res.reps):.2f} (median "
            f"{common.median([r.upload / r.cp for r in res.reps]):.2f})",
            f"- upload/uvicorn-drain = {res.med('upload') / res.med('drain'):.2f}, "
            f"upload/uvicorn-write = {res.med('upload') / res.med('write'):.2f}",
            f"- peak server RSS growth {res.rss_growth_max:.1f} MiB (target < {TARGET_RSS_MIB:.0f}): "
            f"{'MET' if ok_rss else 'MISSED'}",
            *s3_lines,
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=5)
    default_client = "curl" if shutil.which("curl") else "httpx"
    parser.add_argument("--client", choices=sorted(CLIENTS), default=default_client)
    parser.add_argument("--s3", action="store_true", help="also upload to an API on S3 (moto)")
    common.add_run_options(parser)
    args = parser.parse_args()
    load_start = common.wait_for_quiet(args.wait_quiet)
    res = common.in_workdir(args.workdir, "upload", lambda work: run(work, args.reps, args.client, args.s3))
    res.load_start, res.load_end = load_start, common.loadavg()
    print()
    print(report(res))
    common.write_json(args.json, {"benchmark": "upload", **asdict(res), "ratio": res.ratio})


if __name__ == "__main__":
    main()
