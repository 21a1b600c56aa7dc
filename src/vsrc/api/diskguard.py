"""507 for API calls that write while free disk is under ``VSRC_MIN_FREE_BYTES``; reads and DELETE
(which frees space) pass (docs/architecture.md#failure-modes-and-limits)."""

from __future__ import annotations

import time

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from vsrc.api.errors import envelope
from vsrc.config import Settings
from vsrc.services.diskspace import low_space_reason

WRITES = frozenset({"POST", "PUT", "PATCH"})
RECHECK_SECONDS = 1.0


class DiskGuardMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings, prefixes: tuple[str, ...] = ("/api/",)) -> None:
        self.app, self.settings, self.prefixes = app, settings, prefixes
        self._checked = float("-inf")
        self._reason: str | None = None

    async def _low(self) -> str | None:
        now = time.monotonic()
        # While low, every write looks again: freed space is usable at once.
        if self._reason or now - self._checked >= RECHECK_SECONDS:
            self._checked = now
            # statvfs can stall on network filesystems: never on the event loop.
            self._reason = await anyio.to_thread.run_sync(low_space_reason, self.settings)
        return self._reason

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in WRITES
            and scope["path"].startswith(self.prefixes)
            and await self._low()
        ):
            response = envelope(507, "The server is low on disk space: try again later")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
