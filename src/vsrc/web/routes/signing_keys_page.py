"""``/signing-keys``: RSA keys for signed playback — create (private key shown once), list, revoke."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from vsrc.api.deps import StateDep
from vsrc.db.session import transaction
from vsrc.services import signing_keys
from vsrc.web.auth import EditorDep, ViewerDep, mark_dashboard
from vsrc.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_dashboard)])


def _page(
    request: Request, state: StateDep, account_id: int, status_code: int = 200, **extra: Any
) -> Response:
    with transaction(state.sessions) as session:
        rows = signing_keys.list_keys(session, account_id=account_id)
    # Other API processes refuse a revoked key's tokens only once their signing-key cache lets it go.
    context = {"keys": rows, "revoke_cache_seconds": state.settings.signing_key_cache_seconds, **extra}
    return render(request, "signing_keys.html", context, status_code=status_code)


@router.get("/signing-keys")
def signing_keys_page(request: Request, viewer: ViewerDep, state: StateDep) -> Response:
    return _page(request, state, viewer.account_id, revoked=request.query_params.get("revoked"))


@router.post("/signing-keys")
def create_signing_key(request: Request, viewer: EditorDep, state: StateDep) -> Response:
    with transaction(state.sessions) as session:
        new = signing_keys.create_key(session, account_id=viewer.account_id)
        created = {"key_id": new.row.key_id, "private_pem": new.private_pem}
    # Rendered, not redirected: the private key is in this one answer and nowhere else.
    return _page(request, state, viewer.account_id, 201, new=created)


@router.post("/signing-keys/{key_id}/revoke")
def revoke_signing_key(key_id: str, viewer: EditorDep, state: StateDep) -> Response:
    # Customer keys only: the dashboard's internal preview key is not listed here and cannot be revoked.
    with transaction(state.sessions) as session:
        signing_keys.revoke_key(session, account_id=viewer.account_id, key_id=key_id)
    state.guard.verifier.forget(key_id)  # this process refuses its tokens at once, as the API does
    return RedirectResponse(f"/signing-keys?revoked={key_id}", status_code=303)
