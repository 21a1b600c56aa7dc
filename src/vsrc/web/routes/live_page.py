"""``/live``: live streams — create, RTMP credentials with OBS instructions, reset key, a status that
updates itself, a preview player while live, recordings. Same services as ``/api/v1/live``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from vsrc.api.deps import SessionDep, StateDep
from vsrc.api.schemas.live import live_created
from vsrc.db.session import transaction
from vsrc.errors import ValidationFailed
from vsrc.services import live, playback_policy
from vsrc.web.auth import EditorDep, ViewerDep, mark_dashboard
from vsrc.web.templating import preview_tokens, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_dashboard)])

PAGE_SIZE = 50


def _page(
    request: Request, state: StateDep, account_id: int, status_code: int = 200, **extra: Any
) -> Response:
    with transaction(state.sessions) as session:
        page = live.list_live(session, account_id=account_id, limit=PAGE_SIZE)
        streams = [
            {"s": s, "creds": live_created(s), "recordings": live.recordings_of(session, stream=s)}
            for s in page.items
        ]
        regions = sorted({server.region for server, _ in live.list_servers(session)})
    tokens = preview_tokens(request, account_id, [s for s in page.items if s.status == "live"])
    context = {"streams": streams, "total": page.total, "regions": regions, "tokens": tokens, **extra}
    return render(request, "live.html", context, status_code=status_code)


@router.get("/live")
def live_page(request: Request, viewer: ViewerDep, state: StateDep) -> Response:
    return _page(request, state, viewer.account_id)


@router.post("/live")
def create_live(
    request: Request,
    viewer: EditorDep,
    state: StateDep,
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    region: Annotated[str, Form()] = "",
    playbackPolicy: Annotated[str, Form()] = "public",
) -> Response:
    try:
        with transaction(state.sessions) as session:
            stream = live.create_live(
                session,
                account_id=viewer.account_id,
                title=title,
                description=description or None,
                region=region or None,
                server_id=None,
                storage=state.storage,
                playback_policy=playback_policy.parse_policy(playbackPolicy),
            )
            public_id = stream.public_id
    except ValidationFailed as exc:
        errors = {e.field: e.message for e in exc.errors}
        form = {
            "title": title,
            "description": description,
            "region": region,
            "playbackPolicy": playbackPolicy,
        }
        return _page(request, state, viewer.account_id, 400, errors=errors, form=form)
    return RedirectResponse(f"/live#{public_id}", status_code=303)


@router.post("/live/{stream_id}/reset-key")
def reset_key(stream_id: str, viewer: EditorDep, session: SessionDep) -> Response:
    live.reset_key(session, account_id=viewer.account_id, public_id=stream_id)
    return RedirectResponse(f"/live?reset={stream_id}#{stream_id}", status_code=303)


@router.get("/live/{stream_id}/status")
def live_status(
    stream_id: str, request: Request, viewer: ViewerDep, session: SessionDep, shown: str = ""
) -> Response:
    """The status badge (htmx polls it); a change reloads the page so the preview player and the
    recordings list follow the stream."""
    stream = live.get_live(session, account_id=viewer.account_id, public_id=stream_id)
    if shown and stream.status != shown:
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    return render(request, "_live_status.html", {"s": stream})
