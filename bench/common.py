"""Shared helpers of the benchmarks: a real `vsrc api` process, keys, statistics, machine facts."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import httpx

R = TypeVar("R")

REPO = Path(__file__).resolve().parent.parent
VSRC = str(Path(sys.executable).with_name("vsrc"))
NO_RATE_LIMIT = "100000000/15 minutes"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def vsrc_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a benchmark `vsrc` process: own data dir, no rate limit, quiet logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VSRC_")}
    env.update(
        VSRC_DATA_DIR=str(data_dir),
        VSRC_RATE_LIMIT=NO_RATE_LIMIT,
        VSRC_HTTP_HOST="127.0.0.1",
        VSRC_LOG_LEVEL="WARNING",
        **extra,
    )
    return env


def vsrc_cli(args: Sequence[str], env: dict[str, str]) -> str:
    """Run one `vsrc` CLI command; returns its stdout."""
    done = subprocess.run([VSRC, *args], env=env, check=True, capture_output=True, text=True, timeout=120)
    return done.stdout


def create_key(env: dict[str, str], *, account: str = "bench@localhost") -> str:
    """A write key for ``account`` through the real CLI (the key is the last stdout line)."""
    out = vsrc_cli(["keys", "create", "--name", "bench", "--permission", "write", "--account", account], env)
    return out.strip().splitlines()[-1]


@dataclass
class ServerProcess:
    """One single-process uvicorn server run as a child process."""

    argv: list[str]
    env: dict[str, str]
    port: int
    ready_path: str = "/health"
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30) -> ServerProcess:
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=REPO, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.argv}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=1).status_code < 500:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not answer on {self.url} within {timeout}s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def vsrc_api(env: dict[str, str]) -> ServerProcess:
    """`vsrc api` (one uvicorn process) on a free loopback port."""
    port = free_port()
    return ServerProcess([VSRC, "api"], {**env, "VSRC_HTTP_PORT": str(port)}, port)


def uvicorn_app(app_ref: str) -> ServerProcess:
    """``app_ref`` served by the same uvicorn defaults `vsrc api` uses (uvloop, httptools, one process)."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        app_ref,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--proxy-headers",
    ]
    return ServerProcess(argv, dict(os.environ), port, ready_path="/health")


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def machine() -> str:
    """One line describing where the numbers came from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{mem_kib / 1024**2:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        mem = "? RAM"
    return f"{os.cpu_count()} x {cpu}, {mem}, Linux {platform.release()}, Python {platform.python_version()}"


def loadavg() -> float:
    """The 1-minute load average (other people's work on a shared machine shows here)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def wait_for_quiet(max_wait: float, threshold: float | None = None) -> float:
    """Wait up to ``max_wait`` s for the load average to drop below ``threshold`` (default: half the CPUs)."""
    limit = threshold if threshold is not None else (os.cpu_count() or 1) / 2
    deadline = time.monotonic() + max_wait
    load = loadavg()
    if load >= limit and max_wait > 0:
        print(
            f"load average {load:.2f} >= {limit:.2f}: waiting up to {max_wait:.0f}s for a quieter machine",
            flush=True,
        )
    while load >= limit and time.monotonic() < deadline:
        time.sleep(5)
        load = loadavg()
    if load >= limit:
        print(f"warning: load average {load:.2f}: other work is running, numbers will be noisy", flush=True)
    return load


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise SystemExit(f"{tool} is required for this benchmark")
    return path


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def cached_ffmpeg(path: Path, args: Sequence[str], *, timeout: float) -> Path:
    """``path``, made once by ``ffmpeg -hide_banner -loglevel error -nostdin -y ARGS <tmp>`` and kept
    (written to a temp name first, so an interrupted run never leaves a truncated cache entry)."""
    from vsrc.media.commands import ffmpeg_exe

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size > 0:
        return path
    tmp = path.with_suffix(".tmp" + path.suffix)
    base = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    subprocess.run([*base, *args, str(tmp)], check=True, timeout=timeout)
    tmp.rename(path)
    return path


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options every file-based bench shares: ``--workdir``, ``--json`` and ``--wait-quiet``."""
    parser.add_argument("--workdir", type=Path, help="work here and keep the files (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="first wait up to this long for the load average to drop below CPUs/2",
    )


def in_workdir(workdir: Path | None, name: str, body: Callable[[Path], R]) -> R:
    """Run ``body`` in ``workdir`` (created, kept) or in a temporary folder removed afterwards."""
    if workdir:
        workdir.mkdir(parents=True, exist_ok=True)
        return body(workdir.resolve())
    with tempfile.TemporaryDirectory(prefix=f"vsrc-bench-{name}-", dir=os.environ.get("TMPDIR")) as tmp:
        return body(Path(tmp))


def write_json(path: Path | None, payload: dict[str, object]) -> None:
    """Write ``payload`` to ``path`` (if given), creating its folder."""
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2))
