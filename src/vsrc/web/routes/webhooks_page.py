"""``/webhooks``: the account's webhook endpoints — create (the secret shown once), list with their
recent deliveries, Send test, Redeliver, delete. Same services as ``/api/v1/webhooks``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from vsrc.api.deps import SessionDep, StateDep
from vsrc.db.session import transaction
from vsrc.errors import ValidationFailed
from vsrc.services import webhooks
from vsrc.web.auth import EditorDep, ViewerDep, mark_dashboard
from vsrc.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_dashboard)])

RECENT = 10  # deliveries shown per endpoint


def _page(
    request: Request, state: StateDep, account_id: int, status_code: int = 200, **extra: Any
) -> Response:
    with transaction(state.sessions) as session:
        rows = [
            {
                "w": hook,
                "deliveries": webhooks.list_deliveries(
                    session,
                    account_id=account_id,
                    public_id=hook.public_id,
                    page=1,
                    limit=RECENT,
                    status=None,
                ),
            }
            for hook in webhooks.list_webhooks(session, account_id=account_id)
        ]
    context = {"hooks": rows, "event_types": webhooks.SUBSCRIBABLE, **extra}
    return render(request, "webhooks.html", context, status_code=status_code)


@router.get("/webhooks")
def webhooks_page(request: Request, viewer: ViewerDep, state: StateDep) -> Response:
    return _page(request, state, viewer.account_id, notice=request.query_params.get("notice"))


@router.post("/webhooks")
async def create_webhook(
    request: Request,
    viewer: EditorDep,
    state: StateDep,
    url: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    # Several checkboxes share the name "events": read them all (none ticked = every event).
    events = [str(e) for e in (await request.form()).getlist("events")] or None

    def create() -> dict[str, str]:
        with transaction(state.sessions) as session:
            hook = webhooks.create_webhook(
                session,
                account_id=viewer.account_id,
                url=url,
                events=events,
                description=description or None,
                allow_private=state.settings.webhook_allow_private,
            )
            return {"id": hook.public_id, "url": hook.url, "secret": hook.secret}

    try:
        created = await run_in_threadpool(create)
    except ValidationFailed as exc:
        errors = {e.field: e.message for e in exc.errors}
        form = {"url": url, "description": description, "events": events or []}
        return await run_in_threadpool(
            _page, request, state, viewer.account_id, 400, errors=errors, form=form
        )
    # Rendered, not redirected: the signing secret is in this one answer only. The page reads the
    # database: in the threadpool, as everything blocking in this async route.
    return await run_in_threadpool(_page, request, state, viewer.account_id, 201, new=created)


@router.post("/webhooks/{webhook_id}/test")
def send_test(webhook_id: str, viewer: EditorDep, session: SessionDep) -> Response:
    webhooks.send_test(session, account_id=viewer.account_id, public_id=webhook_id)
    return RedirectResponse(f"/webhooks?notice=test#{webhook_id}", status_code=303)


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
def redeliver(webhook_id: str, delivery_id: str, viewer: EditorDep, session: SessionDep) -> Response:
    webhooks.redeliver(session, account_id=viewer.account_id, public_id=webhook_id, delivery_id=delivery_id)
    return RedirectResponse(f"/webhooks?notice=redeliver#{webhook_id}", status_code=303)


@router.post("/webhooks/{webhook_id}/delete")
def delete(webhook_id: str, viewer: EditorDep, session: SessionDep) -> Response:
    webhooks.delete_webhook(session, account_id=viewer.account_id, public_id=webhook_id)
    return RedirectResponse("/webhooks?notice=deleted", status_code=303)
