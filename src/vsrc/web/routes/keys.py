"""``/keys``: the account's API keys — create (the secret shown once), list, revoke."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from vsrc.api.deps import StateDep
from vsrc.db.session import transaction
from vsrc.errors import ValidationFailed
from vsrc.services import keys
from vsrc.web.auth import EditorDep, ViewerDep, mark_dashboard
from vsrc.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_dashboard)])


def _page(
    request: Request, state: StateDep, account_id: int, status_code: int = 200, **extra: Any
) -> Response:
    with transaction(state.sessions) as session:
        rows = keys.list_account_keys(session, account_id=account_id)
    # Other API processes refuse a revoked key only once their key cache lets it go.
    cache = state.settings.key_cache_seconds
    context = {"keys": rows, "permissions": keys.PERMISSIONS, "revoke_cache_seconds": cache, **extra}
    return render(request, "keys.html", context, status_code=status_code)


@router.get("/keys")
def keys_page(request: Request, viewer: ViewerDep, state: StateDep) -> Response:
    return _page(request, state, viewer.account_id, revoked=request.query_params.get("revoked"))


@router.post("/keys")
def create_key(
    request: Request,
    viewer: EditorDep,
    state: StateDep,
    name: Annotated[str, Form()] = "",
    permission: Annotated[str, Form()] = "read",
) -> Response:
    try:
        with transaction(state.sessions) as session:
            created = keys.create_account_key(
                session, account_id=viewer.account_id, name=name, permission=permission
            )
            new = {"plaintext": created.plaintext, "name": created.key.name, "permission": permission}
    except ValidationFailed as exc:
        errors = {e.field: e.message for e in exc.errors}
        return _page(request, state, viewer.account_id, 400, errors=errors, name=name)
    # Rendered, not redirected: the secret is in this one answer and nowhere else.
    return _page(request, state, viewer.account_id, 201, new=new)


@router.post("/keys/{key_id}/revoke")
def revoke_key(key_id: int, viewer: EditorDep, state: StateDep) -> Response:
    with transaction(state.sessions) as session:
        key = keys.revoke_account_key(session, account_id=viewer.account_id, key_id=key_id)
        prefix = key.prefix
    state.key_cache.forget(key_id)  # refused at once here; other processes within VSRC_KEY_CACHE_SECONDS
    return RedirectResponse(f"/keys?revoked={prefix}", status_code=303)
