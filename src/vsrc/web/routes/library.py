"""``/``: the library — the same list and tag-search services as ``GET /api/v1/media[/search]``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from vsrc.api.deps import SessionDep
from vsrc.errors import ValidationFailed
from vsrc.services import media
from vsrc.services.media import ENCODING_STATUSES, MAX_PAGE
from vsrc.web.auth import ViewerDep, mark_dashboard
from vsrc.web.templating import preview_tokens, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_dashboard)])

PAGE_SIZE = 24  # fills rows of 2, 3, 4 or 6 cards


@router.get("/")
def library(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    tags: Annotated[str, Query(max_length=500)] = "",
    match: str = "any",
    status: str = "",
) -> Response:
    filters = {"tags": tags, "match": match, "status": status}
    try:
        if tags.strip():
            result = media.search_media(
                session,
                account_id=viewer.account_id,
                tags=tags,
                match=match,
                page=page,
                limit=PAGE_SIZE,
                status=status or None,
            )
        else:
            result = media.list_media(
                session, account_id=viewer.account_id, page=page, limit=PAGE_SIZE, status=status or None
            )
    except ValidationFailed as exc:
        errors = "; ".join(e.message for e in exc.errors) or exc.message
        context: dict[str, Any] = {
            "result": None,
            "filters": filters,
            "statuses": ENCODING_STATUSES,
            "error": errors,
        }
        return render(request, "library.html", context, status_code=400)
    context = {
        "result": result,
        "filters": filters,
        "statuses": ENCODING_STATUSES,
        "tokens": preview_tokens(request, viewer.account_id, result.items),
    }
    return render(request, "library.html", context)


@router.get("/media/{media_id}/card")
def media_card(media_id: str, request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    """One library card (htmx polls it while the item encodes)."""
    item = media.get_media(session, account_id=viewer.account_id, public_id=media_id)
    return render(
        request, "_card.html", {"m": item, "tokens": preview_tokens(request, viewer.account_id, [item])}
    )
