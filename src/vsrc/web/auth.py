"""Who is looking at the dashboard: session cookies, CSRF tokens, the sign-in rate limit.

The session cookie is HttpOnly and SameSite=Lax and only ever read here: ``/api/v1`` authenticates
Bearer keys alone (``api/deps.py``), so a cookie never authorises an API call. Signed-in forms carry
the session's CSRF token (synchronizer token); the sign-in and sign-up forms, which have no session
yet, carry a random token that must equal the one in a SameSite=Strict cookie (double submit).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from vsrc.api.deps import StateDep
from vsrc.db.session import transaction
from vsrc.errors import PermissionDenied
from vsrc.services import users

SESSION_COOKIE = "vsrc_session"
ANON_CSRF_COOKIE = "vsrc_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):
    """No valid session: the web layer answers with a redirect to ``/login?next=…``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRejected(PermissionDenied):
    """A state-changing request without the right CSRF token (403)."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in person: their user, their account (what they may see) and the CSRF token."""

    user_id: int
    email: str
    account_id: int
    csrf_token: str


def mark_dashboard(request: Request) -> None:
    """Errors raised by dashboard routes are rendered as HTML pages (see ``api/errors.py``)."""
    request.state.dashboard = True


def get_viewer(request: Request, state: StateDep) -> Viewer:
    token = request.cookies.get(SESSION_COOKIE, "")
    with transaction(state.sessions) as session:
        row = users.resolve_session(session, token=token)
        if row is None:
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(path)
        viewer = Viewer(row.user_id, row.user.email, row.user.account_id, row.csrf_token)
    request.state.viewer = viewer
    request.state.csrf_token = viewer.csrf_token
    return viewer


async def sent_csrf_token(request: Request) -> str:
    """The token a request carries: the ``X-CSRF-Token`` header (htmx, fetch) or the form field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def _same(sent: str, expected: str) -> bool:
    return bool(sent) and bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


async def require_csrf(request: Request, viewer: Annotated[Viewer, Depends(get_viewer)]) -> Viewer:
    if not _same(await sent_csrf_token(request), viewer.csrf_token):
        raise CsrfRejected("This form is missing its CSRF token or it is stale: reload the page and retry")
    return viewer


def anonymous_csrf(request: Request) -> str:
    """The pre-sign-in CSRF token (from the cookie, or a new one that ``set_anonymous_csrf`` sets)."""
    token = request.cookies.get(ANON_CSRF_COOKIE) or secrets.token_urlsafe(24)
    request.state.csrf_token = token
    return token


def set_anonymous_csrf(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(
        ANON_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="strict", secure=secure, path="/"
    )


async def require_anonymous_csrf(request: Request) -> None:
    if not _same(await sent_csrf_token(request), request.cookies.get(ANON_CSRF_COOKIE, "")):
        raise CsrfRejected("This form is missing its CSRF token or it is stale: reload the page and retry")


ViewerDep = Annotated[Viewer, Depends(get_viewer)]
# For every state-changing route: the viewer, after the CSRF token was checked.
EditorDep = Annotated[Viewer, Depends(require_csrf)]
