"""Per-client-IP rate limiting of ``/api/`` with the ``limits`` library (memory, or Redis at scale)."""

from __future__ import annotations

import math
import time

from limits import parse
from limits.aio.storage import Storage as AsyncStorage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vsrc.api.errors import envelope


def async_storage(uri: str) -> AsyncStorage:
    """The asyncio twin of a ``limits`` storage URI (``memory://``, ``redis://…``): every call on it
    is awaited, so a Redis round-trip never blocks the event loop."""
    options: dict[str, str] = {"implementation": "redispy"} if uri.startswith("redis") else {}
    storage = storage_from_string(f"async+{uri}", **options)
    assert isinstance(storage, AsyncStorage)
    return storage


class RateLimitMiddleware:
    """Pure ASGI middleware: adds ``RateLimit-*`` headers; answers 429 + ``Retry-After`` when spent."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: str,
        storage_uri: str = "memory://",
        prefixes: tuple[str, ...] = ("/api/",),
        exempt: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.item = parse(limit)
        self.limiter = FixedWindowRateLimiter(async_storage(storage_uri))
        self.prefixes = prefixes
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if not path.startswith(self.prefixes) or path.startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        allowed = await self.limiter.hit(self.item, ip)
        stats = await self.limiter.get_window_stats(self.item, ip)
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        headers = [
            (b"ratelimit-limit", str(self.item.amount).encode()),
            (b"ratelimit-remaining", str(max(0, stats.remaining)).encode()),
            (b"ratelimit-reset", str(reset).encode()),
        ]
        if not allowed:
            response = envelope(
                429, "Too many requests, please try again later", headers={"Retry-After": str(max(1, reset))}
            )
            response.raw_headers.extend(headers)
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
