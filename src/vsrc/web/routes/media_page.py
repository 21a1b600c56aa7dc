"""``/media/{id}``: one video — player, details, embed code, analytics chart, edit, delete."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from vsrc.api.deps import SessionDep, StateDep
from vsrc.db.session import transaction
from vsrc.errors import ValidationFailed
from vsrc.services import analytics_stats, embed, media, uploads
from vsrc.web.auth import EditorDep, ViewerDep, mark_dashboard
from vsrc.web.templating import preview_tokens, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_dashboard)])

PLAYABLE = ("processing", "completed")


@router.get("/media/{media_id}")
def media_page(
    media_id: str, request: Request, viewer: ViewerDep, session: SessionDep, state: StateDep
) -> Response:
    return _page(request, viewer.account_id, session, state, media_id)


def _page(
    request: Request,
    account_id: int,
    session: Session,
    state: StateDep,
    media_id: str,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    item = media.get_media(session, account_id=account_id, public_id=media_id)
    stats = analytics_stats.media_analytics(session, account_id=account_id, media_id=media_id)
    series = {
        "days": [
            {"day": d.day.isoformat(), "views": d.views, "watchSeconds": round(d.watch_seconds, 1)}
            for d in stats.days
        ]
    }
    context = {
        "m": item,
        "playable": item.encoding_status in PLAYABLE,
        "embed_code": embed.embed_code(
            public_url=state.settings.public_url, media_id=item.public_id, player_type="vod"
        ),
        "stats": stats,
        "token": preview_tokens(request, account_id, [item]).get(item.public_id),
        # In a <script type="application/json">: "</" must not end the element early.
        "series_json": json.dumps(series).replace("</", "<\\/"),
    }
    context.update(extra)
    return render(request, "media.html", context, status_code=status_code)


@router.get("/media/{media_id}/status")
def media_status(
    media_id: str, request: Request, viewer: ViewerDep, session: SessionDep, shown: str = ""
) -> Response:
    """The status block of the media page (htmx polls it); reloads the page once the item becomes
    playable or fails, so that the player (or the error) appears."""
    item = media.get_media(session, account_id=viewer.account_id, public_id=media_id)
    was_playable, playable = shown in PLAYABLE, item.encoding_status in PLAYABLE
    if (playable and not was_playable) or (item.encoding_status == "failed" and shown != "failed"):
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    return render(request, "_media_status.html", {"m": item})


@router.post("/media/{media_id}/edit")
def edit(
    media_id: str,
    request: Request,
    viewer: EditorDep,
    state: StateDep,
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    tags: Annotated[str, Form()] = "",
    playbackPolicy: Annotated[str, Form()] = "",
) -> Response:
    """The same edit as ``PATCH /api/v1/media/{id}`` (emits ``media.updated`` when something changed)."""
    changes = {"title": title, "description": description, "tags": tags}
    if playbackPolicy:
        changes["playbackPolicy"] = playbackPolicy
    try:
        # The PATCH route's use-case: it moves the signed-playback marker with the policy.
        uploads.edit(
            state.sessions, state.storage, account_id=viewer.account_id, public_id=media_id, changes=changes
        )
    except ValidationFailed as exc:
        errors = {e.field: e.message for e in exc.errors}
        with transaction(state.sessions) as session:
            return _page(
                request, viewer.account_id, session, state, media_id, 400, errors=errors, form=changes
            )
    return RedirectResponse(f"/media/{media_id}?saved=1", status_code=303)


@router.post("/media/{media_id}/delete")
async def delete(media_id: str, viewer: EditorDep, state: StateDep) -> Response:
    await run_in_threadpool(
        uploads.remove, state.sessions, state.storage, account_id=viewer.account_id, public_id=media_id
    )
    return RedirectResponse("/?deleted=1", status_code=303)
