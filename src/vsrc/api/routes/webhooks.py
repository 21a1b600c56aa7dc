"""``/api/v1/webhooks``: endpoints that receive signed events; their delivery log and redelivery.

Routes are plain ``def``: saving a URL resolves its host (SSRF check), which may block on DNS.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query

from vsrc.api.deps import Reader, SessionDep, StateDep, Writer
from vsrc.api.schemas.common import WRITE_ERRORS
from vsrc.api.schemas.webhooks import (
    DeliveryList,
    DeliveryListResponse,
    DeliveryPagination,
    DeliveryResponse,
    WebhookCreate,
    WebhookCreateResponse,
    WebhookDeleteResponse,
    WebhookList,
    WebhookListResponse,
    WebhookResponse,
    WebhookUpdate,
    delivery_out,
    webhook_created,
    webhook_out,
)
from vsrc.services import webhooks
from vsrc.services.media import MAX_PAGE

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], responses=WRITE_ERRORS)

# The service checks the ids (naming the field); the document states the same patterns.
WebhookId = Annotated[
    str,
    Path(
        max_length=64,
        examples=["whk_3f1c2a9e-8b7d-4c6e-9a1b-2d3e4f5a6b7c"],
        json_schema_extra={"pattern": webhooks.WEBHOOK_ID_PATTERN},
    ),
]
DeliveryId = Annotated[
    str,
    Path(
        max_length=64,
        examples=["dlv_9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"],
        json_schema_extra={"pattern": webhooks.DELIVERY_ID_PATTERN},
    ),
]


@router.post("", status_code=201, response_model=WebhookCreateResponse)
def create_webhook(
    principal: Writer,
    session: SessionDep,
    state: StateDep,
    body: WebhookCreate = Body(
        examples=[
            {
                "url": "https://example.com/vsrc/webhooks",
                "events": ["media.completed", "media.failed"],
                "description": "Production receiver",
            }
        ]
    ),
) -> WebhookCreateResponse:
    """Register an endpoint (``events`` omitted or ``["*"]``: every event); the signing secret is
    returned once, here."""
    webhook = webhooks.create_webhook(
        session,
        account_id=principal.account_id,
        url=body.url,
        events=body.events,
        description=body.description,
        allow_private=state.settings.webhook_allow_private,
    )
    return WebhookCreateResponse(data=webhook_created(webhook))


@router.get("", response_model=WebhookListResponse)
def list_webhooks(principal: Reader, session: SessionDep) -> WebhookListResponse:
    """The account's webhook endpoints, oldest first (secrets are never listed)."""
    items = webhooks.list_webhooks(session, account_id=principal.account_id)
    return WebhookListResponse(data=WebhookList(webhooks=[webhook_out(w) for w in items]))


@router.get("/{webhookId}", response_model=WebhookResponse)
def get_webhook(webhookId: WebhookId, principal: Reader, session: SessionDep) -> WebhookResponse:
    """One webhook endpoint."""
    webhook = webhooks.get_webhook(session, account_id=principal.account_id, public_id=webhookId)
    return WebhookResponse(data=webhook_out(webhook))


@router.patch("/{webhookId}", response_model=WebhookResponse)
def update_webhook(
    webhookId: WebhookId,
    principal: Writer,
    session: SessionDep,
    state: StateDep,
    body: WebhookUpdate = Body(examples=[{"events": ["*"], "enabled": False}]),
) -> WebhookResponse:
    """Change the URL, events, description or ``enabled``; fields not sent stay as they are."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    webhook = webhooks.update_webhook(
        session,
        account_id=principal.account_id,
        public_id=webhookId,
        allow_private=state.settings.webhook_allow_private,
        **changes,
    )
    return WebhookResponse(data=webhook_out(webhook))


@router.delete("/{webhookId}", response_model=WebhookDeleteResponse)
def delete_webhook(webhookId: WebhookId, principal: Writer, session: SessionDep) -> WebhookDeleteResponse:
    """Delete the endpoint, its delivery log and its pending deliveries."""
    webhooks.delete_webhook(session, account_id=principal.account_id, public_id=webhookId)
    return WebhookDeleteResponse(data={"webhookId": webhookId})


@router.post("/{webhookId}/test", status_code=202, response_model=DeliveryResponse)
def test_webhook(webhookId: WebhookId, principal: Writer, session: SessionDep) -> DeliveryResponse:
    """Queue a signed ``webhook.test`` event to this endpoint; follow it in the delivery log."""
    delivery = webhooks.send_test(session, account_id=principal.account_id, public_id=webhookId)
    return DeliveryResponse(message="Test event queued", data=delivery_out(delivery))


@router.get("/{webhookId}/deliveries", response_model=DeliveryListResponse)
def list_deliveries(
    webhookId: WebhookId,
    principal: Reader,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    status: Literal["pending", "delivered", "failed"] | None = None,
) -> DeliveryListResponse:
    """The delivery log, newest first: status, attempts, last status code, latency, error and the
    time of the next attempt."""
    result = webhooks.list_deliveries(
        session, account_id=principal.account_id, public_id=webhookId, page=page, limit=limit, status=status
    )
    pages = (result.total + limit - 1) // limit
    return DeliveryListResponse(
        data=DeliveryList(
            deliveries=[delivery_out(d) for d in result.items],
            pagination=DeliveryPagination(page=page, limit=limit, total=result.total, totalPages=pages),
        )
    )


@router.post(
    "/{webhookId}/deliveries/{deliveryId}/redeliver", status_code=202, response_model=DeliveryResponse
)
def redeliver(
    webhookId: WebhookId, deliveryId: DeliveryId, principal: Writer, session: SessionDep
) -> DeliveryResponse:
    """Send the delivery's event again now: same event id and body, a fresh 24 h retry window."""
    delivery = webhooks.redeliver(
        session, account_id=principal.account_id, public_id=webhookId, delivery_id=deliveryId
    )
    return DeliveryResponse(message="Redelivery queued", data=delivery_out(delivery))
