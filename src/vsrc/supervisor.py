"""``vsrc serve``'s process supervision: it owns the API, the worker and the ingest as children.

A child that dies is restarted after a back-off (1 s, doubling up to 30 s); a child that dies
``max_failures`` times in a row, each within ``stable_after`` seconds of its start, makes serve give
up: it logs why, stops the others and exits 1. SIGTERM and SIGINT stop the children in reverse start
order (API first, so no new work arrives; the worker last), each with SIGTERM and SIGKILL after a
grace period, and serve exits only once every child is gone. Children run in their own process group
(a terminal's Ctrl-C reaches serve alone, which then stops them in order) and get SIGTERM from the
kernel if serve itself dies (Linux), so none is left behind. See docs/architecture.md#processes.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger("vsrc.supervisor")

_PR_SET_PDEATHSIG = 1


def _die_with_parent_fn() -> Callable[[], None] | None:
    # Resolved here, before any fork: looking a symbol up in the child is not async-signal-safe.
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def die_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))

    return die_with_parent


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    pids: list[int] = field(default_factory=list)  # every pid it had, for tests and logs


class Supervisor:
    """Start ``children`` (in order), keep them running, stop them on a signal (reverse order)."""

    def __init__(
        self,
        children: Sequence[tuple[str, list[str]]],
        *,
        env: dict[str, str] | None = None,
        max_failures: int = 5,
        stable_after: float = 60.0,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.children = [Child(name, argv) for name, argv in children]
        self.env = env
        self.max_failures, self.stable_after = max_failures, stable_after
        self.backoff, self.max_backoff, self.stop_timeout = backoff, max_backoff, stop_timeout
        self._stop = threading.Event()
        self._signal: int | None = None
        self._die_with_parent = _die_with_parent_fn()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signal = signum
        self._stop.set()

    def _start(self, child: Child) -> None:
        child.proc = subprocess.Popen(
            child.argv, env=self.env, process_group=0, preexec_fn=self._die_with_parent
        )
        child.started_at, child.restart_at = time.monotonic(), None
        child.pids.append(child.proc.pid)
        log.info("started %s (pid %d)", child.name, child.proc.pid)

    def _check(self, child: Child) -> bool:
        """Notice a dead child and plan its restart; False when it failed too often."""
        now = time.monotonic()
        if child.restart_at is not None:
            if now >= child.restart_at:
                self._start(child)
            return True
        assert child.proc is not None
        code = child.proc.poll()
        if code is None:
            if child.failures and now - child.started_at >= self.stable_after:
                child.failures = 0  # it has run long enough: the next death starts a new count
            return True
        child.failures += 1
        if child.failures >= self.max_failures:
            log.critical(
                "%s died %d times in a row (last exit status %s): giving up, stopping VSRC",
                child.name,
                child.failures,
                code,
            )
            return False
        delay = min(self.backoff * 2 ** (child.failures - 1), self.max_backoff)
        log.error(
            "%s (pid %d) exited with status %s; restarting in %.0f s", child.name, child.proc.pid, code, delay
        )
        child.restart_at = now + delay
        return True

    def _stop_child(self, child: Child) -> None:
        proc = child.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            log.error(
                "%s (pid %d) did not stop within %.0f s; killed", child.name, proc.pid, self.stop_timeout
            )
            proc.kill()
            proc.wait()
        log.info("%s stopped", child.name)

    def run(self) -> int:
        """Supervise until SIGTERM/SIGINT (exit status 0) or a child gives up (1)."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        status = 0
        try:
            for child in self.children:
                self._start(child)
            while not self._stop.wait(0.2):
                if not all(self._check(child) for child in self.children):
                    status = 1
                    break
        finally:
            if self._signal is not None:
                log.info("received %s: stopping", signal.Signals(self._signal).name)
            for child in reversed(self.children):
                self._stop_child(child)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return status
