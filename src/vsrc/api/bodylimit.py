"""Caps request bodies outside the upload endpoint, before any framework code buffers them."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vsrc.api.errors import envelope
from vsrc.errors import PayloadTooLarge

MAX_BODY = 1024 * 1024  # JSON bodies of this API are a few KiB


class BodyLimitMiddleware:
    """413 for a declared ``Content-Length`` over ``limit``; a chunked body is cut off at ``limit``."""

    def __init__(self, app: ASGIApp, *, limit: int = MAX_BODY, exempt: tuple[str, ...] = ()) -> None:
        self.app, self.limit, self.exempt = app, limit, exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            response = envelope(413, f"Request bodies are limited to {self.limit} bytes here")
            await response(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise PayloadTooLarge(f"Request bodies are limited to {self.limit} bytes here")
            return message

        await self.app(scope, limited, send)
