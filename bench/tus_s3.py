"""Direct (tus) upload to S3 vs to local disk: the same real MP4 sent with curl (tus creation, one
streamed PATCH) to two `vsrc api` processes, one on local storage, one on a moto S3 bucket the bench
starts (bench/s3.py), interleaved with the order rotated per repetition.

    .venv/bin/python -m bench.tus_s3 [--size 256MiB] [--reps 3] [--workdir DIR] [--json FILE]

On S3 the PATCH streams into a multipart upload (8 MiB parts), and at the last byte the object is
completed and read back once for the probe; locally the body goes to a partial file moved into place.
Timed from the tus creation to the answer of the PATCH (after probe + store). Reports MiB/s per
backend, S3/local, and each server's peak RSS growth (sampled every 20 ms).
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import common
from bench.rss import RssSampler
from bench.tus import MIB, _api, make_video, parse_size, tus_curl
from bench.upload import delete_media, start_s3_api

BACKENDS = ["local", "s3"]


@dataclass
class Result:
    machine: str
    date: str
    file_bytes: int
    speed: dict[str, list[float]] = field(default_factory=lambda: {b: [] for b in BACKENDS})
    rss_growth_mib: dict[str, list[float]] = field(default_factory=lambda: {b: [] for b in BACKENDS})
    load_start: float = 0.0
    load_end: float = 0.0

    def med(self, backend: str) -> float:
        return common.median(self.speed[backend])


def run(workdir: Path, reps: int, size: int) -> Result:
    common.require("curl")
    seed, video = make_video(workdir, size)
    mib = video.stat().st_size / MIB
    env = common.vsrc_env(workdir / "data")
    common.vsrc_cli(["migrate"], env)
    keys = {"local": common.create_key(env)}
    result = Result(common.machine(), common.today(), video.stat().st_size)
    with contextlib.ExitStack() as stack:
        servers = {"local": common.vsrc_api(env).start(timeout=180)}
        stack.callback(servers["local"].stop)
        servers["s3"], keys["s3"] = start_s3_api(workdir, stack)
        for name in BACKENDS:  # warm-up: imports (PyAV, boto3's paths) are not measured
            with _api(servers[name].url, keys[name]) as api:
                delete_media(servers[name].url, keys[name], tus_curl(api, seed)[0])
        for i in range(reps):
            for name in BACKENDS[i % 2 :] + BACKENDS[: i % 2]:
                subprocess.run(["sync"], check=False)
                with _api(servers[name].url, keys[name]) as api, RssSampler(servers[name].pid) as rss:
                    media_id, seconds = tus_curl(api, video)
                result.speed[name].append(mib / seconds)
                result.rss_growth_mib[name].append(rss.growth_mib)
                delete_media(servers[name].url, keys[name], media_id)  # frees moto's memory too
            print(
                f"  rep {i + 1}: local {result.speed['local'][-1]:.0f}, "
                f"S3 {result.speed['s3'][-1]:.0f} MiB/s",
                flush=True,
            )
    return result


def report(res: Result) -> str:
    rows: list[list[object]] = [
        [
            i + 1,
            f"{res.speed['local'][i]:.0f}",
            f"{res.speed['s3'][i]:.0f}",
            f"{res.speed['s3'][i] / res.speed['local'][i]:.2f}",
            f"{res.rss_growth_mib['local'][i]:.1f} / {res.rss_growth_mib['s3'][i]:.1f}",
        ]
        for i in range(len(res.speed["local"]))
    ]
    ratio = res.med("s3") / res.med("local")
    rows.append(["**median**", f"{res.med('local'):.0f}", f"{res.med('s3'):.0f}", f"**{ratio:.2f}**", ""])
    header = [
        "rep",
        "tus local MiB/s",
        "tus S3 (moto) MiB/s",
        "S3/local",
        "server RSS growth MiB (local / S3)",
    ]
    return "\n".join(
        [
            f"machine: {res.machine}; {res.date}; load average {res.load_start:.2f} at start, "
            f"{res.load_end:.2f} at end",
            f"file: {res.file_bytes / MIB:.0f} MiB real H.264 MP4, {len(res.speed['local'])} reps",
            "",
            common.md_table(header, rows),
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=parse_size, default=256 * MIB, help="file size (default 256MiB)")
    parser.add_argument("--reps", type=int, default=3)
    common.add_run_options(parser)
    args = parser.parse_args()
    load_start = common.wait_for_quiet(args.wait_quiet)
    res = common.in_workdir(args.workdir, "tus_s3", lambda work: run(work, args.reps, args.size))
    res.load_start, res.load_end = load_start, common.loadavg()
    print()
    print(report(res))
    common.write_json(args.json, {"benchmark": "tus_s3", **asdict(res)})


if __name__ == "__main__":
    main()
