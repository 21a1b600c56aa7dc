"""The API-wide CORS policy, with paths that answer CORS themselves left alone."""

from __future__ import annotations

from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send


class CORSExceptMiddleware(CORSMiddleware):
    """Starlette's CORS middleware, except under ``skip``: the tus endpoint allows only each upload's
    own ``corsOrigin`` and must answer its preflights itself."""

    def __init__(self, app: ASGIApp, /, *, skip: tuple[str, ...], **options: Any) -> None:
        super().__init__(app, **options)
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.skip):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
