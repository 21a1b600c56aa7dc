"""Sample another process's resident memory from /proc while something runs."""

from __future__ import annotations

import threading
from pathlib import Path

KIB = 1024


def status_kib(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` field such as ``VmRSS`` or ``VmHWM``, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class RssSampler:
    """Polls ``VmRSS`` of ``pid`` every ``interval`` seconds in a thread; use as a context manager."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.start_kib = status_kib(pid, "VmRSS")
        self.peak_kib = self.start_kib
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = status_kib(self.pid, "VmRSS")
            except (OSError, KeyError):
                return
            self.peak_kib = max(self.peak_kib, rss)
            self.samples += 1
            self._stop.wait(self.interval)

    @property
    def growth_mib(self) -> float:
        return (self.peak_kib - self.start_kib) / KIB

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
