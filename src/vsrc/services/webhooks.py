"""Webhook endpoints of an account: create (secret shown once), list, get, update, delete, test,
the delivery log and redelivery. Sending lives in ``vsrc.webhooks``."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from vsrc.db.models import Webhook, WebhookDelivery
from vsrc.errors import FieldError, NotFound, ValidationFailed
from vsrc.webhooks import outbox, payloads
from vsrc.webhooks.delivery import redeliver_now
from vsrc.webhooks.targets import TargetRefused, resolve

MAX_WEBHOOKS = 20
MAX_DESCRIPTION = 1000
SUBSCRIBABLE = tuple(t for t in outbox.EVENT_TYPES if t != "webhook.test")
_UNSET: Any = object()
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# The ids as new_webhook_id() and the delivery log write them (also the document's path patterns).
WEBHOOK_ID_PATTERN = rf"^whk_{_UUID}$"
DELIVERY_ID_PATTERN = rf"^dlv_{_UUID}$"


def new_webhook_id() -> str:
    return "whk_" + str(uuid.uuid4())


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _check_url(url: Any, *, allow_private: bool, errors: list[FieldError]) -> str:
    if not isinstance(url, str):
        errors.append(FieldError("url", "url is required and must be a string"))
        return ""
    try:
        # Resolving may block on DNS: routes calling this are sync (run in the threadpool).
        return resolve(url, allow_private=allow_private).url
    except TargetRefused as exc:
        errors.append(FieldError("url", str(exc)))
        return url


def _check_events(events: Any, errors: list[FieldError]) -> list[str] | None:
    """None (every event) for an omitted/null list or ``["*"]``; else the de-duplicated known types."""
    if events is None:
        return None
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        errors.append(FieldError("events", "events must be a list of event types"))
        return None
    unknown = [e for e in events if e not in SUBSCRIBABLE and e != outbox.ALL_EVENTS]
    if outbox.ALL_EVENTS in events and not unknown:
        return None
    if unknown or not events:
        errors.append(
            FieldError(
                "events", f"unknown event types {unknown}; use any of {', '.join(SUBSCRIBABLE)} or '*'"
            )
            if unknown
            else FieldError("events", "events must list at least one event type (omit it for all)")
        )
        return None
    return list(dict.fromkeys(events))


def _check_description(description: Any, errors: list[FieldError]) -> str | None:
    if description is None:
        return None
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION or "\x00" in description:
        errors.append(
            FieldError("description", f"description must be text of at most {MAX_DESCRIPTION} characters")
        )
        return None
    return description or None


def create_webhook(
    session: Session,
    *,
    account_id: int,
    url: Any,
    events: Any = None,
    description: Any = None,
    allow_private: bool,
) -> Webhook:
    errors: list[FieldError] = []
    checked_url = _check_url(url, allow_private=allow_private, errors=errors)
    checked_events = _check_events(events, errors)
    checked_description = _check_description(description, errors)
    if errors:
        raise ValidationFailed("Validation failed", errors)
    count = session.scalar(select(func.count()).select_from(Webhook).where(Webhook.account_id == account_id))
    if (count or 0) >= MAX_WEBHOOKS:
        raise ValidationFailed.field("url", f"an account may have at most {MAX_WEBHOOKS} webhooks")
    webhook = Webhook(
        public_id=new_webhook_id(),
        account_id=account_id,
        url=checked_url,
        events=checked_events,
        description=checked_description,
        secret=new_secret(),
        enabled=True,
    )
    session.add(webhook)
    session.flush()
    return webhook


def check_webhook_id(public_id: str) -> None:
    if not re.fullmatch(WEBHOOK_ID_PATTERN, public_id):
        raise ValidationFailed.field("webhookId", "webhookId must look like whk_<uuid>")


def get_webhook(session: Session, *, account_id: int, public_id: str) -> Webhook:
    check_webhook_id(public_id)
    webhook = session.scalar(
        select(Webhook).where(Webhook.public_id == public_id, Webhook.account_id == account_id)
    )
    if webhook is None:
        raise NotFound("Webhook not found")
    return webhook


def list_webhooks(session: Session, *, account_id: int) -> list[Webhook]:
    query = select(Webhook).where(Webhook.account_id == account_id).order_by(Webhook.created_at, Webhook.id)
    return list(session.scalars(query))


def update_webhook(
    session: Session,
    *,
    account_id: int,
    public_id: str,
    allow_private: bool,
    url: Any = _UNSET,
    events: Any = _UNSET,
    description: Any = _UNSET,
    enabled: Any = _UNSET,
) -> Webhook:
    """Change any of the given fields (``events: null`` means every event again)."""
    webhook = get_webhook(session, account_id=account_id, public_id=public_id)
    errors: list[FieldError] = []
    if url is not _UNSET:
        webhook.url = _check_url(url, allow_private=allow_private, errors=errors)
    if events is not _UNSET:
        webhook.events = _check_events(events, errors)
    if description is not _UNSET:
        webhook.description = _check_description(description, errors)
    if enabled is not _UNSET:
        if isinstance(enabled, bool):
            webhook.enabled = enabled
        else:
            errors.append(FieldError("enabled", "enabled must be true or false"))
    if errors:
        raise ValidationFailed("Validation failed", errors)
    session.flush()
    return webhook


def delete_webhook(session: Session, *, account_id: int, public_id: str) -> None:
    """Delete the endpoint and its delivery log; pending deliveries are dropped with it."""
    session.delete(get_webhook(session, account_id=account_id, public_id=public_id))
    session.flush()


def send_test(session: Session, *, account_id: int, public_id: str) -> WebhookDelivery:
    """Queue a ``webhook.test`` event to this endpoint alone (even when disabled)."""
    webhook = get_webhook(session, account_id=account_id, public_id=public_id)
    event = outbox.emit(
        session,
        "webhook.test",
        account_id=account_id,
        subject_id=webhook.public_id,
        data=payloads.ping_data(webhook.public_id),
        only=webhook,
    )
    assert event is not None
    return session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.event_id == event.id)
        .options(joinedload(WebhookDelivery.event))
    ).one()


@dataclass(frozen=True)
class DeliveryPage:
    items: list[WebhookDelivery]
    page: int
    limit: int
    total: int


DELIVERY_STATUSES = ("pending", "delivered", "failed")


def list_deliveries(
    session: Session, *, account_id: int, public_id: str, page: int, limit: int, status: str | None
) -> DeliveryPage:
    """The endpoint's delivery log, newest first."""
    from vsrc.services.media import check_paging

    check_paging(page, limit)
    webhook = get_webhook(session, account_id=account_id, public_id=public_id)
    where = [WebhookDelivery.webhook_id == webhook.id]
    if status is not None:
        if status not in DELIVERY_STATUSES:
            raise ValidationFailed.field("status", f"must be one of {', '.join(DELIVERY_STATUSES)}")
        where.append(WebhookDelivery.status == status)
    total = session.scalar(select(func.count()).select_from(WebhookDelivery).where(*where)) or 0
    items = session.scalars(
        select(WebhookDelivery)
        .where(*where)
        .options(joinedload(WebhookDelivery.event))
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
        .offset((page - 1) * limit)
    )
    return DeliveryPage(list(items), page, limit, total)


def redeliver(session: Session, *, account_id: int, public_id: str, delivery_id: str) -> WebhookDelivery:
    """Send a delivery's event again (same event id and body) now, with a fresh 24 h retry window."""
    webhook = get_webhook(session, account_id=account_id, public_id=public_id)
    if not re.fullmatch(DELIVERY_ID_PATTERN, delivery_id):
        raise ValidationFailed.field("deliveryId", "deliveryId must look like dlv_<uuid>")
    delivery = session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.public_id == delivery_id, WebhookDelivery.webhook_id == webhook.id)
        .options(joinedload(WebhookDelivery.event))
    )
    if delivery is None:
        raise NotFound("Delivery not found")
    redeliver_now(session, delivery)
    outbox.queue_after_commit(session, [delivery.id])
    return delivery
