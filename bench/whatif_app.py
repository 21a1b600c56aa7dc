"""The VSRC app with candidate fixes monkeypatched in, to measure them before anyone edits src/.

Served by uvicorn as a factory (``bench.whatif_app:create``); ``BENCH_PATCHES`` (comma-separated)
selects the fixes. Nothing here is used by VSRC itself; each patch mirrors a proposed src change:

(The former ``search-count`` patch, counting search matches on ``media_tags`` alone, is now the real
``search_media``.)
- ``list-count``: list totals come from an O(1) lookup (a per-account, per-status counter); here
  the exact count is computed once per process and reused, which costs what a counter row would.
- ``deps``: ``get_state`` becomes ``async def`` (no thread-pool hop for an attribute read) and the
  key check reuses the request's session/transaction instead of opening a second one.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from vsrc.api import deps
from vsrc.api.app import create_app
from vsrc.config import load_settings
from vsrc.db.models import Media
from vsrc.errors import AuthError, ValidationFailed
from vsrc.services import keys
from vsrc.services import media as media_service
from vsrc.services.media import ENCODING_STATUSES, Page, check_paging

_totals: dict[tuple[int, str | None], int] = {}


def _page_of(session: Session, query: Select[Any], *, page: int, limit: int, total: int) -> Page:
    """``_paginate`` with the total already known (same id query and eager tag load)."""
    ids = list(
        session.scalars(
            query.order_by(Media.created_at.desc(), Media.id.desc()).limit(limit).offset((page - 1) * limit)
        )
    )
    if not ids:
        return Page([], page, limit, total)
    rows = session.scalars(select(Media).where(Media.id.in_(ids)).options(selectinload(Media.tags)))
    by_id = {m.id: m for m in rows}
    return Page([by_id[i] for i in ids if i in by_id], page, limit, total)


def list_media_counted(
    session: Session, *, account_id: int, page: int = 1, limit: int = 20, status: str | None = None
) -> Page:
    check_paging(page, limit)
    if status is not None and status not in ENCODING_STATUSES:
        raise ValidationFailed.field("encodingStatus", f"must be one of {', '.join(ENCODING_STATUSES)}")
    query = select(Media.id).where(Media.account_id == account_id)
    if status is not None:
        query = query.where(Media.encoding_status == status)
    key = (account_id, status)
    if key not in _totals:
        _totals[key] = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return _page_of(session, query, page=page, limit=limit, total=_totals[key])


async def get_state_async(request: Request) -> deps.AppState:
    state: deps.AppState = request.app.state.vsrc
    return state


def principal_same_session(
    request: Request, session: deps.SessionDep, state: deps.StateDep
) -> keys.Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Missing API key: send 'Authorization: Bearer <key>'")
    return keys.authenticate(session, plaintext=token.strip(), touch_after=state.settings.key_touch_seconds)


def create() -> FastAPI:
    patches = {p.strip() for p in os.environ.get("BENCH_PATCHES", "").split(",") if p.strip()}
    unknown = patches - {"list-count", "deps"}
    if unknown:
        raise SystemExit(f"unknown BENCH_PATCHES: {sorted(unknown)}")
    if "list-count" in patches:
        media_service.list_media = list_media_counted
    app = create_app(load_settings())
    if "deps" in patches:
        app.dependency_overrides[deps.get_state] = get_state_async
        app.dependency_overrides[deps.get_principal] = principal_same_session
    return app
