"""405 Method Not Allowed with an ``Allow`` header that lists every method of the path.

Starlette answers 405 from the first route whose path matched, so ``Allow`` named only that route's
method when one path has several routes (``GET`` and ``POST /api/v1/live``), and a path that is both a
literal route and a parameter value (``DELETE /api/v1/media/search`` against ``DELETE
/api/v1/media/{mediaId}``) reached the parameter route and failed validation instead. Here, before
routing, the methods of every route matching the path are collected, literal routes first (a literal
path beats a parameter, as in most routers); a method outside that set gets 405 and the full ``Allow``.
"""

from __future__ import annotations

import re

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from vsrc.api.errors import envelope

# (path regex, methods or None for "any", literal path?)
RouteEntry = tuple[re.Pattern[str], frozenset[str] | None, bool]


class MethodNotAllowedMiddleware:
    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.routes = routes  # the app's live list: read at the first request, once all are included
        self._table: list[RouteEntry] | None = None

    def table(self) -> list[RouteEntry]:
        if self._table is None:
            entries: list[RouteEntry] = []
            for context in iter_route_contexts(self.routes):
                if isinstance(context.original_route, WebSocketRoute):
                    continue
                regex = getattr(context, "path_regex", None)
                if regex is None:
                    continue
                methods = getattr(context, "methods", None)
                literal = "{" not in (context.path or "")
                entries.append((regex, frozenset(methods) if methods else None, literal))
            self._table = entries
        return self._table

    def allowed(self, path: str) -> set[str] | None:
        """The methods of ``path``, or None when some route takes any method (or none matches)."""
        literal: set[str] = set()
        templated: set[str] = set()
        for regex, methods, is_literal in self.table():
            if not regex.match(path):
                continue
            if methods is None:
                return None  # a mount or a catch-all: it decides itself
            (literal if is_literal else templated).update(methods)
        return literal or templated or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            methods = self.allowed(scope["path"])
            if methods is not None and scope["method"] not in methods:
                allow = ", ".join(sorted(methods))
                response = envelope(405, "Method Not Allowed", headers={"Allow": allow})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
