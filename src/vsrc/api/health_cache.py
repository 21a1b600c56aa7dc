"""``/health``'s document, computed at most once per ``VSRC_HEALTH_CACHE_SECONDS`` per process.

Load balancers, orchestrators and monitors may all poll ``/health``; each computation costs two
queries and a ``statvfs`` per watched folder in a worker thread. Within the window every caller gets
the same encoded answer without leaving the event loop. Once it has passed, one caller computes the
next document and those arriving meanwhile wait for it: nobody gets an answer older than the window,
so a database that stops answering shows as a hanging ``/health``, as it would uncached.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import anyio
from sqlalchemy.orm import Session, sessionmaker

from vsrc.config import Settings
from vsrc.db.session import transaction
from vsrc.services import health


class HealthCache:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._ttl = ttl
        self._clock = clock
        self._body = b""
        self._at = float("-inf")
        self._lock: anyio.Lock | None = None

    def _compute(self) -> bytes:
        with transaction(self._sessions) as session:
            report = health.report(session, self._settings)
        return json.dumps(report, separators=(",", ":")).encode()

    def _fresh(self) -> bytes | None:
        return self._body if self._clock() - self._at < self._ttl else None

    async def body(self) -> bytes:
        """The JSON document, at most ``ttl`` seconds old (computed in a worker thread when due)."""
        body = self._fresh()
        if body is not None:
            return body
        if self._lock is None:
            self._lock = anyio.Lock()  # made on the serving event loop, at first use
        async with self._lock:
            body = self._fresh()
            if body is not None:
                return body  # the caller we waited for computed it
            started = self._clock()
            self._body = await anyio.to_thread.run_sync(self._compute)
            self._at = started
            return self._body
