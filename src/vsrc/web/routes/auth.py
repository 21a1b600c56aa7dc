"""``/login``, ``/signup``, ``/logout``: dashboard sign-in with argon2 passwords and session cookies."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from vsrc.api.deps import StateDep
from vsrc.db.session import transaction
from vsrc.errors import AuthError, ValidationFailed
from vsrc.services import users
from vsrc.web.auth import (
    SESSION_COOKIE,
    EditorDep,
    ViewerDep,
    anonymous_csrf,
    mark_dashboard,
    require_anonymous_csrf,
    set_anonymous_csrf,
)
from vsrc.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_dashboard)])
AnonCsrf = Depends(require_anonymous_csrf)
_SIGNUP_LOCK = threading.Lock()
Text = Annotated[str, Form()]


def _secure(request: Request) -> bool:
    return bool(request.app.state.vsrc.settings.public_url.startswith("https://"))


def _safe_next(target: str | None) -> str:
    # Only paths of this site: "//evil.example" and "/\\evil" would leave it.
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def _signed_in(request: Request, signed: users.SignedIn, target: str) -> Response:
    response = RedirectResponse(_safe_next(target), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        max_age=int(users.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    return response


def _form_page(request: Request, name: str, context: dict[str, object], status_code: int = 200) -> Response:
    token = anonymous_csrf(request)
    response = render(request, name, context, status_code=status_code)
    set_anonymous_csrf(response, token, secure=_secure(request))
    return response


def _signup_open(state: StateDep) -> bool:
    if state.settings.open_signup:
        return True
    with transaction(state.sessions) as session:
        return not users.any_user(session)


@router.get("/login")
def login_page(request: Request, state: StateDep, next: str = "/") -> Response:
    return _form_page(
        request, "login.html", {"next": _safe_next(next), "email": "", "signup": _signup_open(state)}
    )


@router.post("/login", dependencies=[AnonCsrf])
def login(
    request: Request, state: StateDep, email: Text = "", password: Text = "", next: Text = "/"
) -> Response:
    web = request.app.state.web
    client = request.client.host if request.client else "unknown"
    buckets = (("login-ip", client), ("login-email", users.normalize_email(email)[:320]))
    context = {"next": _safe_next(next), "email": email, "signup": _signup_open(state)}
    # Every attempt is counted before its password check (hit is atomic in memory and Redis): counting
    # only failures afterwards let guesses sent at once all pass the check before any was counted.
    allowed = [web.login_limiter.hit(web.login_limit, *bucket) for bucket in buckets]
    if not all(allowed):
        context["error"] = "Too many sign-in attempts: wait a minute and try again."
        return _form_page(request, "login.html", context, status_code=429)
    try:
        with transaction(state.sessions) as session:
            user = users.authenticate(session, email=email, password=password)
            signed = users.start_session(session, user=user)
    except AuthError as exc:
        context["error"] = exc.message
        return _form_page(request, "login.html", context, status_code=401)
    return _signed_in(request, signed, next)


@router.get("/signup")
def signup_page(request: Request, state: StateDep) -> Response:
    if not _signup_open(state):
        return _form_page(request, "signup.html", {"closed": True}, status_code=403)
    return _form_page(request, "signup.html", {"email": ""})


@router.post("/signup", dependencies=[AnonCsrf])
async def signup(request: Request, state: StateDep, email: Text = "", password: Text = "") -> Response:
    def create() -> users.SignedIn | None:
        # Check and insert under one lock: concurrent first sign-ups all saw "no user yet" and all got
        # in. A process lock: with several API processes (VSRC_API_WORKERS) each one can still let in one.
        with _SIGNUP_LOCK, transaction(state.sessions) as session:
            if not state.settings.open_signup and users.any_user(session):
                return None
            user = users.create_user(session, email=email, password=password, new_account=True)
            return users.start_session(session, user=user)

    try:
        signed = await run_in_threadpool(create)
    except ValidationFailed as exc:
        errors = {e.field: e.message for e in exc.errors}
        return _form_page(request, "signup.html", {"email": email, "errors": errors}, status_code=400)
    if signed is None:
        return _form_page(request, "signup.html", {"closed": True}, status_code=403)
    return _signed_in(request, signed, "/")


@router.get("/logout")
def logout_page(request: Request, viewer: ViewerDep) -> Response:
    return render(request, "logout.html")


@router.post("/logout")
def logout(request: Request, viewer: EditorDep, state: StateDep) -> Response:
    with transaction(state.sessions) as session:
        users.end_session(session, token=request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
    return response
