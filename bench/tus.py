"""Direct-upload benchmark: the same real MP4 sent to `vsrc api` over tus and as a multipart upload.

    .venv/bin/python -m bench.tus [--size 1GiB] [--reps 3] [--chunk 64MiB] [--workdir DIR] [--json FILE]

Per repetition, interleaved with the order rotated (so all steps share the machine's noise):
- multipart: `curl -F file=@…` to `POST /api/v1/media/upload` (201 after probe + store);
- tus (curl): `POST /api/v1/uploads`, tus creation, then one streamed `PATCH` (`curl -T`), 204 after
  probe + store — the same work as the multipart path, in the tus protocol;
- tus (tuspy): the same with the Python tus client in `--chunk` PATCHes (how scripts upload).
tus is timed from its creation request to the answer of its last PATCH (`POST /api/v1/uploads` is
the application's call before it hands the URL out). Each media item is deleted after its step.
The server's VmRSS is sampled every 20 ms during each
upload. Reports medians, tus/multipart (target >= 0.8) and the server's peak RSS growth (< 64 MiB).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from tusclient.client import TusClient

from bench import common
from bench.rss import RssSampler
from bench.upload import delete_media
from bench.upload_client import upload_curl
from bench.videogen import big_video, seed_clip

MIB = 1024**2
TARGET_RATIO = 0.8
TARGET_RSS_MIB = 64.0
STEPS = ["multipart", "tus_curl", "tuspy"]
_SIZE_RE = re.compile(r"^(\d+)\s*(B|KiB|MiB|GiB)?$", re.IGNORECASE)
_UNITS = {"b": 1, "kib": 1024, "mib": MIB, "gib": 1024**3}


def parse_size(text: str) -> int:
    match = _SIZE_RE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError("a size like 1GiB, 256MiB or 1048576")
    return int(match.group(1)) * _UNITS[(match.group(2) or "b").lower()]


@dataclass
class Rep:
    multipart: float  # MiB/s of each step
    tus_curl: float
    tuspy: float
    rss_growth_mib: dict[str, float]
    server_cpu_s: dict[str, float]  # the server process's user + system CPU seconds for the upload


@dataclass
class Result:
    machine: str
    date: str
    file_bytes: int
    chunk_bytes: int
    reps: list[Rep] = field(default_factory=list)
    load_start: float = 0.0
    load_end: float = 0.0

    def med(self, name: str) -> float:
        return common.median([float(getattr(r, name)) for r in self.reps])

    def ratio(self, name: str) -> float:
        return self.med(name) / self.med("multipart")

    def cpu_med(self, name: str) -> float:
        return common.median([r.server_cpu_s[name] for r in self.reps])

    def rss_max(self, name: str) -> float:
        return max(r.rss_growth_mib[name] for r in self.reps)


def _api(base: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120)


def _create(api: httpx.Client) -> tuple[str, str]:
    resp = api.post("/api/v1/uploads", json={"title": "bench tus", "tags": "bench"})
    resp.raise_for_status()
    data = resp.json()["data"]
    # The URL on the server `api` talks to (a server started without VSRC_PUBLIC_URL names another).
    token = str(data["uploadUrl"]).rsplit("/", 1)[1]
    return str(data["uploadId"]), f"{str(api.base_url).rstrip('/')}/tus/{token}"


def _media_of(api: httpx.Client, upload_id: str) -> str:
    data = api.get(f"/api/v1/uploads/{upload_id}").json()["data"]
    if data["status"] != "completed":
        raise RuntimeError(f"tus upload did not complete: {data}")
    return str(data["mediaId"])


# Each step returns (media id, seconds of the upload itself). For tus that is from the tus creation
# to the answer of the last PATCH (which includes probe + store, as the multipart answer does);
# `POST /api/v1/uploads` is the application server's call before it hands the URL out, not timed.


def tus_curl(api: httpx.Client, path: Path) -> tuple[str, float]:
    """Create, then one streamed PATCH with curl (reads the file as it sends, like `curl -F`)."""
    upload_id, url = _create(api)
    tus = ["-H", "Tus-Resumable: 1.0.0"]
    size = path.stat().st_size
    start = time.perf_counter()
    subprocess.run(
        ["curl", "-sSf", "-o", "/dev/null", "-X", "POST", *tus, "-H", f"Upload-Length: {size}", url],
        check=True,
        timeout=60,
    )
    subprocess.run(
        [
            "curl",
            "-sSf",
            "-o",
            "/dev/null",
            "-X",
            "PATCH",
            *tus,
            "-H",
            "Upload-Offset: 0",
            "-H",
            "Content-Type: application/offset+octet-stream",
            "-T",
            str(path),
            url,
        ],
        check=True,
        timeout=600,
    )
    seconds = time.perf_counter() - start
    return _media_of(api, upload_id), seconds


def tuspy(api: httpx.Client, path: Path, chunk: int) -> tuple[str, float]:
    upload_id, url = _create(api)
    start = time.perf_counter()
    TusClient(url).uploader(str(path), chunk_size=chunk, metadata={"filename": path.name}).upload()
    seconds = time.perf_counter() - start
    return _media_of(api, upload_id), seconds


def multipart(api: httpx.Client, path: Path) -> tuple[str, float]:
    key = api.headers["authorization"].removeprefix("Bearer ")
    result = upload_curl(f"{api.base_url}".rstrip("/") + "/api/v1/media/upload", key, path)
    if result.status != 201 or result.media_id is None:
        raise RuntimeError(f"multipart upload failed: HTTP {result.status} {result.body}")
    return result.media_id, result.seconds


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (all its threads) from ``/proc/PID/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_video(workdir: Path, size: int) -> tuple[Path, Path]:
    print(f"making a ~{size / MIB:.0f} MiB MP4 under {workdir} ...", flush=True)
    seed = seed_clip(workdir / "seed.mp4")
    return seed, big_video(workdir / "video.mp4", seed, size=size)


def run(workdir: Path, reps: int, size: int, chunk: int) -> Result:
    common.require("curl")
    seed, video = make_video(workdir, size)
    mib = video.stat().st_size / MIB
    port = common.free_port()
    env = common.vsrc_env(workdir / "data", VSRC_PUBLIC_URL=f"http://127.0.0.1:{port}")
    common.vsrc_cli(["migrate"], env)
    key = common.create_key(env)
    result = Result(common.machine(), common.today(), video.stat().st_size, chunk)
    steps: dict[str, Callable[[httpx.Client, Path], tuple[str, float]]] = {
        "multipart": multipart,
        "tus_curl": tus_curl,
        "tuspy": lambda api, p: tuspy(api, p, chunk),
    }
    server = common.ServerProcess([common.VSRC, "api"], {**env, "VSRC_HTTP_PORT": str(port)}, port)
    server.start(timeout=180)  # a loaded machine starts Python slowly
    try:
        with _api(server.url, key) as api:
            for name in STEPS:  # warm-up: imports (PyAV) and first-use paths are not measured
                delete_media(server.url, key, steps[name](api, seed)[0])
            for i in range(reps):
                speed: dict[str, float] = {}
                growth: dict[str, float] = {}
                cpu: dict[str, float] = {}
                for name in STEPS[i % len(STEPS) :] + STEPS[: i % len(STEPS)]:
                    subprocess.run(["sync"], check=False)
                    cpu_before = cpu_seconds(server.pid)
                    with RssSampler(server.pid) as sampler:
                        media_id, seconds = steps[name](api, video)
                    cpu[name] = cpu_seconds(server.pid) - cpu_before
                    speed[name], growth[name] = mib / seconds, sampler.growth_mib
                    delete_media(server.url, key, media_id)
                rep = Rep(speed["multipart"], speed["tus_curl"], speed["tuspy"], growth, cpu)
                result.reps.append(rep)
                print(
                    f"  rep {i + 1}: multipart {rep.multipart:.0f}, tus (curl) {rep.tus_curl:.0f}, "
                    f"tuspy {rep.tuspy:.0f} MiB/s; server RSS +"
                    + ", +".join(f"{growth[n]:.1f}" for n in STEPS)
                    + " MiB; server CPU "
                    + ", ".join(f"{cpu[n]:.2f}" for n in STEPS)
                    + " s",
                    flush=True,
                )
    finally:
        server.stop()
    return result


def report(res: Result) -> str:
    rows: list[list[object]] = [
        [
            i + 1,
            f"{r.multipart:.0f}",
            f"{r.tus_curl:.0f}",
            f"{r.tuspy:.0f}",
            f"{r.tus_curl / r.multipart:.2f}",
            f"{r.tuspy / r.multipart:.2f}",
            " / ".join(f"{r.rss_growth_mib[n]:.1f}" for n in STEPS),
            " / ".join(f"{r.server_cpu_s[n]:.2f}" for n in STEPS),
        ]
        for i, r in enumerate(res.reps)
    ]
    rows.append(
        [
            "**median**",
            *(f"{res.med(n):.0f}" for n in STEPS),
            f"**{res.ratio('tus_curl'):.2f}**",
            f"**{res.ratio('tuspy'):.2f}**",
            "max " + " / ".join(f"{res.rss_max(n):.1f}" for n in STEPS),
            " / ".join(f"{res.cpu_med(n):.2f}" for n in STEPS),
        ]
    )
    table = common.md_table(
        [
            "rep",
            "multipart MiB/s",
            "tus (curl, 1 PATCH) MiB/s",
            f"tuspy ({res.chunk_bytes // MIB} MiB chunks) MiB/s",
            "tus curl / multipart",
            "tuspy / multipart",
            "server RSS growth MiB (multipart / tus curl / tuspy)",
            "server CPU s (multipart / tus curl / tuspy)",
        ],
        rows,
    )
    rss = max(res.rss_max("tus_curl"), res.rss_max("tuspy"))
    verdict = {n: "MET" if res.ratio(n) >= TARGET_RATIO else "MISSED" for n in ("tus_curl", "tuspy")}
    return "\n".join(
        [
            f"machine: {res.machine}; {res.date}; load average {res.load_start:.2f} at start, "
            f"{res.load_end:.2f} at end",
            f"file: {res.file_bytes / MIB:.0f} MiB real H.264 MP4, {len(res.reps)} reps",
            "",
            table,
            "",
            f"- tus (curl) / multipart = {res.ratio('tus_curl'):.2f} (target >= {TARGET_RATIO}): "
            f"{verdict['tus_curl']}",
            f"- tuspy / multipart = {res.ratio('tuspy'):.2f} (target >= {TARGET_RATIO}): {verdict['tuspy']}",
            f"- server CPU per upload (median): multipart {res.cpu_med('multipart'):.2f} s, tus (curl) "
            f"{res.cpu_med('tus_curl'):.2f} s, tuspy {res.cpu_med('tuspy'):.2f} s (less noisy than MiB/s "
            "on a loaded machine)",
            f"- peak server RSS growth during tus uploads {rss:.1f} MiB (target < {TARGET_RSS_MIB:.0f}): "
            f"{'MET' if rss < TARGET_RSS_MIB else 'MISSED'}",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=parse_size, default=1024**3, help="file size (default 1GiB)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--chunk", type=parse_size, default=64 * MIB, help="tuspy chunk size (64MiB)")
    common.add_run_options(parser)
    args = parser.parse_args()
    load_start = common.wait_for_quiet(args.wait_quiet)
    res = common.in_workdir(args.workdir, "tus", lambda work: run(work, args.reps, args.size, args.chunk))
    res.load_start, res.load_end = load_start, common.loadavg()
    print()
    print(report(res))
    common.write_json(args.json, {"benchmark": "tus", **asdict(res)})


if __name__ == "__main__":
    if shutil.which("curl") is None:
        raise SystemExit("bench.tus needs curl")
    main()
