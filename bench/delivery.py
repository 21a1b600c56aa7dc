"""Viewer delivery vs its same-run references: `vsrc api` (the API process `vsrc serve` runs) serving a
2 s segment, resolve, playlists and /health, against nginx serving the same file and a bare FastAPI
app returning the same bytes; `wrk -c50` on the same machine, interleaved, medians of ``--reps``.

    .venv/bin/python -m bench.delivery [--seconds 4] [--reps 2] [--connections 50] [--only ROW] [--json FILE]

Self-contained: generates its files, starts nginx and the servers on free ports, removes everything.
Needs `wrk` and `nginx` (Debian packages). Measuring an older checkout: run it with
``PYTHONPATH=<that checkout>/src`` (the child `vsrc` processes import from there).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import (
    REPO,
    ServerProcess,
    add_run_options,
    cached_ffmpeg,
    create_key,
    free_port,
    in_workdir,
    loadavg,
    machine,
    md_table,
    median,
    require,
    today,
    vsrc_api,
    vsrc_cli,
    vsrc_env,
    wait_for_quiet,
    write_json,
)

SEGMENT_BYTES = 486_000  # the 2 s 720p segment of docs/benchmarks.md
VARIANT_LINES = 150  # a 10-minute rung at 4 s segments
_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


@dataclass
class Wrk:
    rps: float
    bytes_per_s: float
    p99_ms: float
    errors: int
    cpu_us: float = float("nan")  # CPU time of ``pid`` per request, when measured


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, *, seconds: float, connections: int, pid: int | None = None) -> Wrk:
    threads = str(min(2, connections))
    argv = [
        require("wrk"),
        "-t",
        threads,
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--latency",
        url,
    ]
    cpu_before = cpu_seconds(pid) if pid is not None else 0.0
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    cpu = cpu_seconds(pid) - cpu_before if pid is not None else float("nan")
    total = re.search(r"(\d+) requests in", out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    rate = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return Wrk(
        rps=rps,
        bytes_per_s=float(rate.group(1)) * _UNITS[rate.group(2)] if rate else 0.0,
        p99_ms=float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"),
        errors=(int(errors.group(1)) if errors else 0)
        + (sum(int(n) for n in socket_errors.groups()) if socket_errors else 0),
        cpu_us=cpu / int(total.group(1)) * 1e6 if total and int(total.group(1)) else float("nan"),
    )


def deploy_site(vsrc_port: int, port: int, storage: Path) -> str:
    """docs/deploy.md's nginx block (VSRC behind nginx, X-Accel-Redirect offload) on these ports."""
    site = re.search(r"```nginx\n(.*?)```", (REPO / "docs" / "deploy.md").read_text(), re.S)
    assert site, "docs/deploy.md has no nginx block"
    return (
        site.group(1)
        .replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{vsrc_port};")
        .replace("listen 80;", f"listen 127.0.0.1:{port};")
        .replace("alias /var/lib/vsrc/storage/;", f"alias {storage}/;")
    )


def nginx(root: Path, prefix: Path, vsrc_port: int | None = None) -> ServerProcess:
    """nginx serving ``root`` as a static folder (sendfile, Debian's defaults: one worker per core);
    with ``vsrc_port``, docs/deploy.md's site in front of that VSRC instead."""
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = f"""server {{
        listen 127.0.0.1:{port};
        root {root};
        location = /health {{ return 200 '{{"status":"ok"}}'; }}
    }}"""
    if vsrc_port is not None:
        server = deploy_site(vsrc_port, port, root)
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the private temp folder
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""{user}worker_processes auto;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    sendfile on;
    tcp_nopush on;
    access_log off;
    keepalive_requests 100000;
    types {{ video/mp2t ts; application/vnd.apple.mpegurl m3u8; application/json json; }}
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    {server}
}}
"""
    )
    argv = [require("nginx"), "-p", str(prefix), "-c", str(conf)]
    return ServerProcess(argv, dict(os.environ), port, ready_path="/health")


def bare_app(files: Path) -> ServerProcess:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "bench.delivery_app:app", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--log-level", "warning"]
    return ServerProcess(argv, {**os.environ, "BENCH_DELIVERY_FILES": str(files)}, port)


def lay_out(storage: Path, media_id: str) -> None:
    hls = storage / "hls" / media_id / "720p"
    hls.mkdir(parents=True, exist_ok=True)
    (hls.parent / "master.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2800000\n720p/index.m3u8\n")
    segments = "".join(f"#EXTINF:4.000,\nseg_{i:05d}.ts\n" for i in range(VARIANT_LINES))
    (hls / "index.m3u8").write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n{segments}#EXT-X-ENDLIST\n")
    (hls / "seg_00000.ts").write_bytes(os.urandom(SEGMENT_BYTES))


def items(url: str, key: str, clip: Path, storage: Path) -> tuple[dict[str, str], str]:
    """A public and a signed item (real uploads; no worker runs, so the laid-out files stay)."""
    from vsrc.services.tokens import load_private_key, sign_token

    ids: dict[str, str] = {}
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, timeout=60, headers=auth) as client:
        for policy in ("public", "signed"):
            resp = client.post(
                "/api/v1/media/upload",
                files={"file": ("clip.mp4", clip.read_bytes())},
                data={"title": policy, "playbackPolicy": policy},
            )
            resp.raise_for_status()
            ids[policy] = resp.json()["data"]["mediaId"]
            lay_out(storage, ids[policy])
        pem = client.post("/api/v1/signing-keys").json()["data"]["privateKey"]
    return ids, sign_token(load_private_key(pem)[0], media_id=ids["signed"], expires_in=3600)


@contextmanager
def _started(*servers: ServerProcess) -> Iterator[None]:
    """Start ``servers`` with a generous deadline (several workers on a loaded machine start slowly)."""
    try:
        for server in servers:
            server.start(timeout=180)
        yield
    finally:
        for server in servers:
            server.stop()


def run(work: Path, args: argparse.Namespace) -> dict[str, object]:
    data_dir = work / "data"
    storage = data_dir / "storage"
    env = vsrc_env(data_dir)
    vsrc_cli(["migrate"], env)
    key = create_key(env)
    clip = cached_ffmpeg(
        work / "clip.mp4",
        ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15:duration=1", "-c:v", "libx264"],
        timeout=60,
    )
    api = vsrc_api(env)
    # The production recipe: a second API process that hands segments to nginx (X-Accel-Redirect).
    accel = vsrc_api({**env, "VSRC_DELIVERY_ACCEL_PREFIX": "/_vsrc_media"})
    refs = work / "refs"
    refs.mkdir(exist_ok=True)
    with _started(api, accel):
        ids, token = items(api.url, key, clip, storage)
        public = ids["public"]
        resolve = httpx.get(f"{api.url}/hls/resolve/{public}")
        (refs / "resolve.json").write_bytes(resolve.content)
        for name, rel in (("master.m3u8", "master.m3u8"), ("index.m3u8", "720p/index.m3u8")):
            (refs / name).write_bytes((storage / "hls" / public / rel).read_bytes())
        seg = f"/hls/{public}/720p/seg_00000.ts"
        cases = [
            # (row, VSRC path, reference, reference path); "front:" = through docs/deploy.md's nginx
            ("2 s segment (486 KB) GET", seg, "nginx", seg),
            ("2 s segment GET behind nginx (docs/deploy.md, X-Accel-Redirect)", "front:" + seg, "nginx", seg),
            ("`GET /hls/resolve/{id}`", f"/hls/resolve/{public}", "bare", "/resolve"),
            ("master playlist GET", f"/hls/{public}/master.m3u8", "bare", "/master.m3u8"),
            ("variant playlist GET (150 segments)", f"/hls/{public}/720p/index.m3u8", "bare", "/index.m3u8"),
            ("`GET /health`", "/health", "bare", "/health"),
            (
                "signed segment GET (token) vs the public one",
                f"/hls/{ids['signed']}/720p/seg_00000.ts?token={token}",
                "vsrc",
                seg,
            ),
        ]
        cases = [case for case in cases if args.only.lower() in case[0].lower()]
        with (
            nginx(storage, work / "nginx") as static,
            nginx(storage, work / "front", vsrc_port=accel.port) as front,
            bare_app(refs) as bare,
        ):
            servers = {"nginx": static.url, "bare": bare.url, "vsrc": api.url}

            def ours_url(path: str) -> str:
                return (
                    front.url + path.removeprefix("front:") if path.startswith("front:") else api.url + path
                )

            for _row, path, ref, ref_path in cases:  # both sides answer, and the same bytes
                mine, theirs = httpx.get(ours_url(path)), httpx.get(servers[ref] + ref_path)
                assert mine.status_code == theirs.status_code == 200, (path, mine.status_code)
                assert ref == "vsrc" or path == "/health" or mine.content == theirs.content, path
            results = []
            for row, path, ref, ref_path in cases:
                ours: list[Wrk] = []
                theirs_runs: list[Wrk] = []
                # The API process's CPU per request: on a loaded machine a steadier measure of what a
                # request costs than req/s (which follows the CPU share the process gets).
                our_pid = accel.pid if path.startswith("front:") else api.pid
                their_pid = api.pid if ref == "vsrc" else None
                for _ in range(args.reps):
                    ours.append(
                        wrk(ours_url(path), seconds=args.seconds, connections=args.connections, pid=our_pid)
                    )
                    theirs_runs.append(
                        wrk(
                            servers[ref] + ref_path,
                            seconds=args.seconds,
                            connections=args.connections,
                            pid=their_pid,
                        )
                    )
                results.append(_summarise(row, ref, ours, theirs_runs))
    return {"date": today(), "machine": machine(), "load_after": loadavg(), "rows": results}


def _summarise(row: str, ref: str, ours: list[Wrk], theirs: list[Wrk]) -> dict[str, object]:
    return {
        "what": row,
        "reference": {"nginx": "nginx, same file", "bare": "bare FastAPI, same bytes", "vsrc": "VSRC public"}[
            ref
        ],
        "vsrc_rps": median([w.rps for w in ours]),
        "vsrc_bytes_per_s": median([w.bytes_per_s for w in ours]),
        "vsrc_p99_ms": median([w.p99_ms for w in ours]),
        "ref_rps": median([w.rps for w in theirs]),
        "ref_bytes_per_s": median([w.bytes_per_s for w in theirs]),
        "errors": sum(w.errors for w in ours + theirs),
        "vsrc_cpu_us": median([w.cpu_us for w in ours]),
        "ref_cpu_us": median([w.cpu_us for w in theirs]) if ref == "vsrc" else None,
    }


def _mb(value: object) -> str:
    assert isinstance(value, float)
    return f"{value / 1e6:,.0f} MB/s" if value < 1e9 else f"{value / 1e9:.2f} GB/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--only", default="", help="measure only the rows whose name contains this")
    add_run_options(parser)
    args = parser.parse_args()
    require("wrk")
    require("nginx")
    load = wait_for_quiet(args.wait_quiet)
    result = in_workdir(args.workdir, "delivery", lambda work: run(work, args))
    result["load_before"] = load
    rows = []
    for r in result["rows"]:  # type: ignore[attr-defined]
        ratio = r["vsrc_rps"] / r["ref_rps"]
        ours, theirs = f"{r['vsrc_rps']:,.0f} req/s", f"{r['ref_rps']:,.0f} req/s"
        if "segment" in r["what"] and "playlist" not in r["what"]:
            ours += f", {_mb(r['vsrc_bytes_per_s'])}"
            theirs += f", {_mb(r['ref_bytes_per_s'])}"
        cpu = f"{r['vsrc_cpu_us']:.0f}"
        if r["ref_cpu_us"] is not None:
            cpu += f" (public {r['ref_cpu_us']:.0f})"
        rows.append(
            [r["what"], ours, f"{r['reference']}: {theirs}", f"{ratio:.2f}", f"{r['vsrc_p99_ms']:.0f}", cpu]
        )
    print(
        f"\n{result['date']}; {result['machine']}; load {load:.2f} before, {result['load_after']:.2f} after"
    )
    print(f"wrk -c{args.connections}, {args.seconds:g} s x {args.reps} interleaved (medians)\n")
    header = ["what", "VSRC", "same-run reference", "ratio", "VSRC p99 ms", "VSRC CPU µs/request"]
    print(md_table(header, rows))
    errors = sum(r["errors"] for r in result["rows"])  # type: ignore[attr-defined]
    if errors:
        print(f"\nwarning: {errors} non-2xx responses or socket errors")
    write_json(args.json, json.loads(json.dumps(result)))


if __name__ == "__main__":
    main()
