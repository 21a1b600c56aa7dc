"""Management API under concurrency: list/get/health at c=50 vs a bare FastAPI + SQLAlchemy app.

    .venv/bin/python -m bench.management [--media 1000] [--connections 50] [--seconds 5] [--rounds 2]
                                         [--command serve|api] [--workdir DIR] [--json FILE]

Migrates a fresh SQLite database and creates a key with the CLI, seeds the key's account with
``--media`` items (3 tags each, ``bench.seed``), then serves that one file twice: by VSRC as the
embedded default runs it (``vsrc serve``: supervisor, API process, idle worker and ingest; rate
limiter on, its limit lifted so that no request is refused) and by ``bench.management_app`` (a bare
FastAPI + SQLAlchemy app running the same ORM queries, same uvicorn). ``wrk`` drives each endpoint
with ``--connections`` keep-alive connections for ``--seconds``, after a 1 s warm-up; the targets
alternate and the whole set is repeated ``--rounds`` times so both share the machine's noise. Prints
req/s, p50 and p99 per endpoint and the VSRC / bare ratio (target: >= 0.5 for list and get).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import update

from bench import common
from bench.seed import seed
from vsrc.config import Settings
from vsrc.db.models import Media
from vsrc.db.session import make_engine

ACCOUNT = "bench@localhost"
TARGET_RATIO = 0.5
GET_IDS = 200
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class Sample:
    endpoint: str
    server: str
    round: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int  # non-2xx answers and socket errors
    cpu_ms: float  # CPU time of the serving process per answered request (robust to other load)


@dataclass
class Result:
    machine: str
    date: str
    command: str
    media: int
    connections: int
    seconds: float
    load_start: float = 0.0
    load_end: float = 0.0
    samples: list[Sample] = field(default_factory=list)


def _latency_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(out: str) -> tuple[float, float, float, int, int]:
    """req/s, p50 ms, p99 ms, requests and bad answers from ``wrk --latency`` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _latency_ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _latency_ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    bad += sum(int(n) for n in errors.groups()) if errors else 0
    return rps, p50, p99, requests, bad


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serving_pid(server: common.ServerProcess) -> int:
    """The process that answers HTTP: the server itself, or `vsrc serve`'s `vsrc api` child."""
    pid = server.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for child in children:
        if Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[-2:-1] == [b"api"]:
            return int(child)
    return pid


def lua_script(path: Path, targets: list[str]) -> Path:
    """A wrk script that cycles through ``targets`` (each thread from its own offset)."""
    listed = ",\n".join(f'  "{t}"' for t in targets)
    path.write_text(
        f"local paths = {{\n{listed}\n}}\n"
        "local i = math.random(#paths)\n"
        "request = function()\n"
        "  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i])\n'
        "end\n"
    )
    return path


def wrk(url: str, script: Path, *, key: str | None, connections: int, seconds: int) -> str:
    argv = [common.require("wrk"), "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    if key:
        argv += ["-H", f"Authorization: Bearer {key}"]
    done = subprocess.run([*argv, url], check=True, capture_output=True, text=True, timeout=seconds + 60)
    return done.stdout


def prepare(workdir: Path, media: int) -> tuple[dict[str, str], str, int, list[str]]:
    env = common.vsrc_env(workdir / "data")
    common.vsrc_cli(["migrate"], env)
    key = common.create_key(env, account=ACCOUNT)
    engine = make_engine(Settings(data_dir=workdir / "data").sqlalchemy_url)
    seeded = seed(engine, account_email=ACCOUNT, media=media, tags=max(10, media // 10), tags_per_media=3)
    # Finished items only: `vsrc serve`'s worker would otherwise pick up the seeded pending ones
    # (which have no files) and spend the run failing their encodes.
    with engine.begin() as conn:
        conn.execute(update(Media).values(encoding_status="completed", encoding_progress=100))
    engine.dispose()
    ids = random.Random(7).sample(seeded.media_ids, min(GET_IDS, len(seeded.media_ids)))
    return env, key, seeded.account_id, ids


def servers(
    workdir: Path, env: dict[str, str], command: str, account_id: int
) -> tuple[common.ServerProcess, common.ServerProcess]:
    port = common.free_port()
    vsrc_env = {**env, "VSRC_HTTP_PORT": str(port), "VSRC_RTMP_PORT": str(common.free_port())}
    vsrc = common.ServerProcess([common.VSRC, command], vsrc_env, port)
    bare = common.uvicorn_app("bench.management_app:app")
    bare.env = {
        **bare.env,
        "BENCH_DB_URL": Settings(data_dir=workdir / "data").sqlalchemy_url,
        "BENCH_ACCOUNT_ID": str(account_id),
    }
    return vsrc, bare


def run(workdir: Path, args: argparse.Namespace) -> Result:
    result = Result(
        common.machine(), common.today(), args.command, args.media, args.connections, args.seconds
    )
    print(f"seeding {args.media} media ...", flush=True)
    env, key, account_id, ids = prepare(workdir, args.media)
    scripts = {
        "GET /api/v1/media?limit=20": lua_script(workdir / "list.lua", ["/api/v1/media?limit=20"]),
        "GET /api/v1/media/{id}": lua_script(workdir / "get.lua", [f"/api/v1/media/{i}" for i in ids]),
        "GET /health": lua_script(workdir / "health.lua", ["/health"]),
    }
    vsrc, bare = servers(workdir, env, args.command, account_id)
    try:
        vsrc.start(timeout=120)
        bare.start(timeout=60)
        result.load_start = common.loadavg()
        targets = {"vsrc": (vsrc.url, serving_pid(vsrc)), "bare": (bare.url, serving_pid(bare))}
        measure(result, args, scripts, key, targets)
        result.load_end = common.loadavg()
    finally:
        stop(bare)
        stop(vsrc)
    return result


def measure(
    result: Result,
    args: argparse.Namespace,
    scripts: dict[str, Path],
    key: str,
    targets: dict[str, tuple[str, int]],
) -> None:
    for rnd in range(args.rounds):
        for name, script in scripts.items():
            order = list(targets.items())
            for server, (url, pid) in order if rnd % 2 == 0 else order[::-1]:
                auth = key if server == "vsrc" and name.startswith("GET /api") else None
                wrk(url, script, key=auth, connections=args.connections, seconds=1)  # warm-up
                cpu = cpu_seconds(pid)
                out = wrk(url, script, key=auth, connections=args.connections, seconds=args.seconds)
                cpu = cpu_seconds(pid) - cpu
                rps, p50, p99, requests, bad = parse_wrk(out)
                cpu_ms = 1000 * cpu / max(1, requests)
                result.samples.append(Sample(name, server, rnd, rps, p50, p99, requests, bad, cpu_ms))
                print(
                    f"  round {rnd + 1} {server:4s} {name:28s} {rps:7.0f} req/s  p50 {p50:6.1f} ms  "
                    f"p99 {p99:6.1f} ms  server CPU {cpu_ms:5.2f} ms/req  bad {bad}",
                    flush=True,
                )


def stop(server: common.ServerProcess, grace: float = 60) -> None:
    """SIGTERM, then SIGKILL after ``grace`` s (`vsrc serve` stops its children in order first)."""
    proc = server.proc
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def report(res: Result) -> str:
    rows = []
    for name in dict.fromkeys(s.endpoint for s in res.samples):
        of = {
            srv: [s for s in res.samples if s.endpoint == name and s.server == srv]
            for srv in ("vsrc", "bare")
        }

        def avg(srv: str, attr: str, of: dict[str, list[Sample]] = of) -> float:
            return _mean([getattr(s, attr) for s in of[srv]])

        ratio = avg("vsrc", "rps") / avg("bare", "rps")
        verdict = ("MET" if ratio >= TARGET_RATIO else "MISSED") if name.startswith("GET /api") else "-"
        rows.append(
            [
                f"`{name}`",
                *(
                    f"{avg(srv, 'rps'):.0f} ({avg(srv, 'p50_ms'):.0f} / {avg(srv, 'p99_ms'):.0f} ms, "
                    f"{avg(srv, 'cpu_ms'):.2f} ms CPU)"
                    for srv in ("vsrc", "bare")
                ),
                f"{ratio:.2f}",
                f"{avg('bare', 'cpu_ms') / avg('vsrc', 'cpu_ms'):.2f}",
                verdict,
                sum(s.bad for s in of["vsrc"]) + sum(s.bad for s in of["bare"]),
            ]
        )
    header = [
        "endpoint",
        "VSRC req/s (p50 / p99, server CPU per request)",
        "bare req/s (same)",
        "req/s ratio",
        "CPU ratio (bare / VSRC)",
        f"req/s ratio >= {TARGET_RATIO}",
        "bad answers",
    ]
    return (
        f"machine: {res.machine}; {res.date}; load average {res.load_start:.2f} at start, "
        f"{res.load_end:.2f} at end\n"
        f"VSRC: `vsrc {res.command}` (SQLite, rate limiter on); bare: FastAPI + SQLAlchemy on the same file; "
        f"{res.media} media; wrk -t2 -c{res.connections}, {res.seconds:g} s per run, mean of "
        f"{max(s.round for s in res.samples) + 1} rounds\n\n" + common.md_table(header, rows) + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--media", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--command", choices=("serve", "api"), default="serve")
    common.add_run_options(parser)
    parser.set_defaults(wait_quiet=0.0)
    args = parser.parse_args()
    common.require("wrk")
    # A SIGTERM (e.g. `timeout`) unwinds like Ctrl-C, so the servers are stopped and the temp dir removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    common.wait_for_quiet(args.wait_quiet)
    started = time.monotonic()
    result = common.in_workdir(args.workdir, "management", lambda wd: run(wd, args))
    print()
    print(report(result))
    print(f"took {time.monotonic() - started:.0f} s (pid {os.getpid()})")
    common.write_json(args.json, {"result": asdict(result)})


if __name__ == "__main__":
    main()
