"""The dashboard: server-rendered pages for people, over the same services as the API.

``install_dashboard(app)`` adds its routes, its static files and its two web-only answers (a
redirect to the sign-in page; errors as HTML pages instead of the API's JSON envelope).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from vsrc.api.deps import AppState
from vsrc.web.auth import LoginRequired
from vsrc.web.preview_tokens import PreviewSigner
from vsrc.web.templating import build_environment, render


@dataclass
class WebState:
    """What the dashboard holds for the app's lifetime (on ``app.state.web``)."""

    templates: Environment
    js_dir: Path
    login_limiter: MovingWindowRateLimiter
    login_limit: RateLimitItem
    preview: PreviewSigner


def _error_page(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if request.headers.get("hx-request"):
        # htmx would swap the sign-in page into a fragment: tell it to load the page instead.
        return HTMLResponse("", status_code=401, headers={"HX-Redirect": "/login"})
    return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)


def install_dashboard(app: FastAPI) -> None:
    from vsrc.web.routes import ROUTERS

    state: AppState = app.state.vsrc
    storage_uri = state.settings.redis_url or "memory://"
    app.state.web = WebState(
        templates=build_environment(),
        js_dir=state.settings.player_dist / "dashboard",
        login_limiter=MovingWindowRateLimiter(storage_from_string(storage_uri)),
        login_limit=parse(state.settings.login_rate_limit),
        preview=PreviewSigner(state.sessions),
    )
    app.state.html_error_page = _error_page
    app.add_exception_handler(LoginRequired, _login_required)
    for router in ROUTERS:
        app.include_router(router)
