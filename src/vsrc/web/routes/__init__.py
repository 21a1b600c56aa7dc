"""Dashboard routers, in the order they are mounted."""

from __future__ import annotations

from vsrc.web.routes import auth, library, static

ROUTERS = (static.router, auth.router, library.router)
