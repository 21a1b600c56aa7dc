"""``lastUsedAt`` of API keys, written off the request path (docs/architecture.md#api-keys).

A request only notes in memory that its key was used (``record``: a dictionary write, no I/O). A
background thread writes the latest use of every key noted since its last pass, every
``interval`` seconds, in one transaction: at most one write per key per interval, whatever the
request rate. A pass that fails (database down, disk full) keeps its uses for the next one, and
``close`` writes what is left, so a key's use is lost only if the process is killed outright
(then at most the last ``interval`` seconds of it). A write never moves ``last_used_at`` back, so
several API processes using the same key agree on the latest use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, or_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vsrc.db.models import ApiKey
from vsrc.db.session import transaction
from vsrc.errors import VsrcError
from vsrc.timeutil import utcnow

log = logging.getLogger("vsrc.services.key_usage")

MIN_INTERVAL = 0.1  # VSRC_KEY_TOUCH_SECONDS=0: as soon as possible, without spinning

_keys = cast(Table, ApiKey.__table__)
_TOUCH = (
    update(_keys)
    .where(
        _keys.c.id == bindparam("key_id"),
        or_(_keys.c.last_used_at.is_(None), _keys.c.last_used_at < bindparam("used_at")),
    )
    .values(last_used_at=bindparam("used_at"))
)


class KeyUsage:
    """Remembers when each API key was last used; a daemon thread writes it every ``interval`` s."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        interval: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._interval = max(interval, MIN_INTERVAL)
        self._clock = clock
        self._pending: dict[int, datetime] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, key_id: int) -> None:
        """Note that ``key_id`` is being used now (no I/O: safe on the event loop)."""
        now = self._clock()
        with self._lock:
            self._pending[key_id] = now
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="vsrc-key-usage", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._flush_or_keep()

    def _flush_or_keep(self) -> None:
        try:
            self.flush()
        except (SQLAlchemyError, VsrcError):
            # Nothing is lost: flush() put the uses back, the next pass writes them.
            log.warning(
                "could not write API keys' lastUsedAt; retrying in %.1f s", self._interval, exc_info=True
            )

    def flush(self) -> int:
        """Write the uses noted so far (blocking); returns how many keys were written. On error the
        uses are kept for the next call, and the error is raised."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        try:
            with transaction(self._sessions) as session:
                session.connection().execute(
                    _TOUCH, [{"key_id": key_id, "used_at": at} for key_id, at in sorted(pending.items())]
                )
        except BaseException:
            with self._lock:
                for key_id, at in pending.items():
                    newer = self._pending.get(key_id)
                    self._pending[key_id] = at if newer is None else max(at, newer)
            raise
        return len(pending)

    def close(self) -> None:
        """Stop the thread and write what is left (blocking; call it off the event loop)."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        if thread is not None:
            thread.join()
        self._flush_or_keep()
