"""The worker takes no job while free disk is under ``VSRC_MIN_FREE_BYTES``, and never spins on a queue
it cannot write (docs/architecture.md#failure-modes-and-limits).

SQLite's queue lives in the data folder: on a full disk even *taking* a job (a DELETE) fails, and
Huey would log "Error reading from queue" on every poll, and its scheduler a traceback each minute.
The gate answers "nothing to do" to both instead, logging once when it pauses and once when it resumes.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from vsrc.config import Settings
from vsrc.services.diskspace import is_no_space, low_space_reason

log = logging.getLogger("vsrc.tasks.diskgate")

RECHECK_SECONDS = 1.0


def _disk_full(exc: BaseException) -> bool:
    # sqlite3 says "database or disk is full" (SQLITE_FULL) rather than raising an OSError.
    return is_no_space(exc) or "disk is full" in str(exc).lower()


class DiskGate:
    """Why the worker is paused (``reason()``), or None; free space is measured at most once a second."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._checked = 0.0
        self._reason: str | None = None
        self._queue_full = False

    def reason(self) -> str | None:
        with self._lock:
            now = time.monotonic()
            if self._reason or now - self._checked >= RECHECK_SECONDS:
                self._checked = now
                self._set(low_space_reason(self.settings))
            return self._reason

    def may_schedule(self) -> bool:
        """Whether the scheduler may move tasks into the queue now (not while paused or full)."""
        return self.reason() is None and not self._queue_full

    def state(self) -> str:
        """For the worker's heartbeat row."""
        reason = self.reason()
        return f"paused: {reason}" if reason else "running"

    def _set(self, reason: str | None) -> None:
        if reason and not self._reason:
            log.warning("worker paused, no new jobs: %s", reason)
        elif self._reason and not reason:
            log.warning("worker resumed: disk space is back above %d bytes", self.settings.min_free_bytes)
        self._reason = reason

    @staticmethod
    def _idle() -> None:
        # Huey does not sleep after an empty answer from a blocking backend (Redis): without this
        # a paused worker thread would spin.
        time.sleep(RECHECK_SECONDS)

    def dequeue(self, take: Any) -> Any:
        """``take()`` (Huey's dequeue) unless paused; a full disk under the queue is "no job"."""
        if self.reason() is not None:
            self._idle()
            return None
        try:
            task = take()
        except Exception as exc:
            if not _disk_full(exc):
                raise
            if not self._queue_full:
                log.warning("the queue cannot be read: its disk is full (%s); waiting for space", exc)
            self._queue_full = True
            self._idle()
            return None
        if self._queue_full:
            log.warning("the queue is readable again")
        self._queue_full = False
        return task
