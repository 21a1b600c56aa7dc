"""nginx-rtmp compatible hooks (``on_publish`` / ``on_publish_done``): the same key check over HTTP.

nginx-rtmp posts form fields ``name`` (stream key), ``app``, ``addr`` and ``call``; any 2xx
allows the publish, anything else denies it.

Who may call: with ``VSRC_HOOK_SECRET`` set, every caller must append ``?secret=...`` to the hook
URLs (uvicorn's access log shows it masked, see ``vsrc.redact``); without a secret, only callers
whose address is in ``VSRC_HOOK_ALLOW_NETWORKS`` (default: loopback) — anyone else could mark
streams live or ended, or probe stream keys.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import PlainTextResponse

from vsrc.api.deps import SessionDep, StateDep
from vsrc.errors import AuthError, PermissionDenied
from vsrc.services import live

router = APIRouter(prefix="/hooks/rtmp", tags=["hooks"])


def _check_caller(state: StateDep, request: Request, secret: str | None) -> None:
    settings = state.settings
    if settings.hook_secret:
        if not hmac.compare_digest(settings.hook_secret.encode(), (secret or "").encode()):
            raise AuthError("bad hook secret")
        return
    try:
        ip = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:
        ip = None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip is None or not any(ip in network for network in settings.hook_networks):
        raise PermissionDenied(
            "hook caller not allowed: set VSRC_HOOK_SECRET, or add its network to VSRC_HOOK_ALLOW_NETWORKS"
        )


@router.post("/on_publish", response_class=PlainTextResponse)
def on_publish(
    state: StateDep,
    request: Request,
    session: SessionDep,
    name: Annotated[str, Form(min_length=1)],
    app: Annotated[str, Form(min_length=1)],
    addr: Annotated[str, Form()] = "",
    call: Annotated[str, Form()] = "publish",
    secret: Annotated[str | None, Query()] = None,
) -> PlainTextResponse:
    """2xx when ``name`` may publish to ``app`` now; 403 with the reason otherwise."""
    _check_caller(state, request, secret)
    stream = live.authorize_publish(session, app=app, stream_key=name, server_id=None, active_here=None)
    return PlainTextResponse(f"OK {stream.public_id}")


@router.post("/on_publish_done", response_class=PlainTextResponse)
def on_publish_done(
    state: StateDep,
    request: Request,
    session: SessionDep,
    name: Annotated[str, Form(min_length=1)],
    app: Annotated[str, Form()] = "live",
    addr: Annotated[str, Form()] = "",
    call: Annotated[str, Form()] = "publish_done",
    secret: Annotated[str | None, Query()] = None,
) -> PlainTextResponse:
    """The publish of ``name`` ended: the stream becomes ``ended``."""
    _check_caller(state, request, secret)
    live.end_publish(session, stream_key=name)
    return PlainTextResponse("OK")
