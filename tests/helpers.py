"""Small helpers shared by the test suites."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")


def eventually(predicate: Callable[[], T], timeout: float = 30, interval: float = 0.05, what: str = "") -> T:
    """Call ``predicate`` until it returns something truthy and return that; fail after ``timeout`` seconds.

    The one way tests wait for something to happen: a deadline, never a bare sleep. The last
    exception the predicate raised (if any) is chained to the failure.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
        except AssertionError as exc:  # a predicate may assert its way to "not yet"
            last_error, value = exc, None  # type: ignore[assignment]
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not met within {timeout} s: {what or predicate!r}") from last_error
        time.sleep(interval)


class ApiProcess:
    """A real ``vsrc api`` process (the production entry point, not an in-process server) on a free
    loopback port, serving a freshly migrated data dir. ``env`` adds ``VSRC_*`` settings; ``command``
    may name another HTTP-serving command (``serve``: give it a free ``VSRC_RTMP_PORT``)."""

    def __init__(
        self, data_dir: Path, command: str = "api", startup_timeout: float = 180, **env: str
    ) -> None:
        from tests.conftest import free_port, sessions_for
        from vsrc.config import Settings
        from vsrc.db.migrate import upgrade
        from vsrc.db.session import transaction
        from vsrc.services.defaults import ensure_defaults

        self.settings = Settings(data_dir=data_dir)
        upgrade(self.settings.sqlalchemy_url)  # what `vsrc migrate` does
        with transaction(sessions_for(self.settings.sqlalchemy_url)) as session:
            ensure_defaults(session, rtmp_public_url=self.settings.rtmp_public_url)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {
            **os.environ,
            "VSRC_DATA_DIR": str(data_dir),
            "VSRC_HTTP_HOST": "127.0.0.1",
            "VSRC_HTTP_PORT": str(self.port),
            "VSRC_LOG_LEVEL": "WARNING",
            **env,
        }
        self.log = (data_dir / "api.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vsrc", command], env=full_env, stdout=self.log, stderr=self.log
        )
        try:
            eventually(self._up, timeout=startup_timeout, what=f"vsrc {command} answers /health")
        except BaseException:
            self.kill()  # a start that failed (or was interrupted) leaves no process behind
            raise

    def _up(self) -> bool:
        import httpx

        assert self.proc.poll() is None, "vsrc api exited"
        try:
            return httpx.get(f"{self.url}/health", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def kill(self) -> None:
        """SIGKILL and reap: for a process that is of no use (it never became ready)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()


async def aeventually(
    predicate: Callable[[], T], timeout: float = 30, interval: float = 0.05, what: str = ""
) -> T:
    """:func:`eventually` for ``async`` tests: polls without blocking the event loop the test runs on."""
    import asyncio

    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
        except AssertionError as exc:
            last_error, value = exc, None  # type: ignore[assignment]
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not met within {timeout} s: {what or predicate!r}") from last_error
        await asyncio.sleep(interval)


def raw_get(base_url: str, target: str, timeout: float = 30) -> tuple[int, bytes]:
    """``GET target`` sent byte for byte over a socket, and the answer's (status, body).

    httpx and browsers normalise ``../`` and ``%2e%2e`` away before sending; a hostile client does
    not, so traversal tests must bypass them.
    """
    host, port = base_url.removeprefix("http://").rstrip("/").split(":")
    request = f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


def build_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], T]) -> T:
    """``build(folder)`` once per test run, shared by every parallel (xdist) worker.

    For expensive session fixtures (generated clips): the first worker builds under a file lock and
    pickles the result; the others wait for the lock and load it. The folder lives in the run's own
    temp dir, so separate runs never share it.
    """
    base = tmp_path_factory.getbasetemp()
    run_dir = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = run_dir / f"shared-{name}"
    folder.mkdir(exist_ok=True)
    built = folder / "built.pickle"
    with open(run_dir / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if built.exists():
            with built.open("rb") as fh:
                value: T = pickle.load(fh)
            return value
        value = build(folder)
        with built.open("wb") as fh:
            pickle.dump(value, fh)
        return value


def worker_pids(parent: int) -> list[int]:
    """The live uvicorn worker processes of ``parent`` (not multiprocessing's resource tracker)."""
    pids = []
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if b"spawn_main" in cmdline and state != "Z":
                pids.append(int(child))
    return sorted(pids)


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    """Stop process ``pid`` (SIGSTOP) for the block: a worker that neither serves nor answers."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):  # the supervisor may have killed it
            os.kill(pid, signal.SIGCONT)
