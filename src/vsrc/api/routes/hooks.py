"""nginx-rtmp compatible hooks (``on_publish`` / ``on_publish_done``): the same key check over HTTP.

nginx-rtmp posts form fields ``name`` (stream key), ``app``, ``addr`` and ``call``; any 2xx
allows the publish, anything else denies it. Set ``VSRC_HOOK_SECRET`` and append
``?secret=...`` to the hook URLs so only your nginx can call them.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Query
from fastapi.responses import PlainTextResponse

from vsrc.api.deps import SessionDep, StateDep
from vsrc.errors import AuthError
from vsrc.services import live

router = APIRouter(prefix="/hooks/rtmp", tags=["hooks"])


def _check_secret(state: StateDep, secret: str | None) -> None:
    expected = state.settings.hook_secret
    if expected and not hmac.compare_digest(expected, secret or ""):
        raise AuthError("bad hook secret")


@router.post("/on_publish", response_class=PlainTextResponse)
def on_publish(
    state: StateDep,
    session: SessionDep,
    name: Annotated[str, Form()],
    app: Annotated[str, Form()],
    addr: Annotated[str, Form()] = "",
    call: Annotated[str, Form()] = "publish",
    secret: Annotated[str | None, Query()] = None,
) -> PlainTextResponse:
    """2xx when ``name`` may publish to ``app`` now; 403 with the reason otherwise."""
    _check_secret(state, secret)
    stream = live.authorize_publish(session, app=app, stream_key=name, server_id=None, active_here=None)
    return PlainTextResponse(f"OK {stream.public_id}")


@router.post("/on_publish_done", response_class=PlainTextResponse)
def on_publish_done(
    state: StateDep,
    session: SessionDep,
    name: Annotated[str, Form()],
    app: Annotated[str, Form()] = "live",
    addr: Annotated[str, Form()] = "",
    call: Annotated[str, Form()] = "publish_done",
    secret: Annotated[str | None, Query()] = None,
) -> PlainTextResponse:
    """The publish of ``name`` ended: the stream becomes ``ended``."""
    _check_secret(state, secret)
    live.end_publish(session, stream_key=name)
    return PlainTextResponse("OK")
