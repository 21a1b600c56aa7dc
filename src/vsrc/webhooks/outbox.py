"""The outbox: events are rows written in the same transaction as the change that caused them.

``emit`` adds one ``webhook_events`` row and one pending ``webhook_deliveries`` row per subscribed
webhook; nothing is sent here. Once the transaction commits, the session factory's ``notify`` hook
(installed by ``attach``) hands the new delivery ids to the queue; if that hand-off is lost, the
periodic sweep finds the pending rows. A rolled-back change therefore never sends an event, and a
committed one is never lost. See docs/webhooks.md and docs/architecture.md (Integrations).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, exists, select
from sqlalchemy.orm import Session, sessionmaker

from vsrc.db.models import Webhook, WebhookDelivery, WebhookEvent
from vsrc.timeutil import iso_ms, utcnow

log = logging.getLogger("vsrc.webhooks")

EVENT_TYPES = (
    "media.created",
    "media.playable",
    "media.completed",
    "media.failed",
    "media.deleted",
    "media.updated",
    "live.created",
    "live.started",
    "live.ended",
    "live.recording.created",
    "webhook.test",
)
ALL_EVENTS = "*"

_CONFIG_KEY = "vsrc.webhooks.config"
_PENDING_KEY = "vsrc.webhooks.pending"

Notify = Callable[[list[int]], None]


@dataclass(frozen=True)
class OutboxConfig:
    """What rendering and handing off events needs from the process (its public URL, its queue)."""

    public_url: str = "http://localhost:8000"
    notify: Notify | None = None


def attach(sessions: sessionmaker[Session], *, public_url: str, notify: Notify | None) -> None:
    """Make sessions of ``sessions`` render URLs with ``public_url`` and, after each commit, pass the
    ids of the deliveries they created to ``notify`` (e.g. the queue's ``enqueue_deliveries``)."""
    info = dict(sessions.kw.get("info") or {})
    info[_CONFIG_KEY] = OutboxConfig(public_url=public_url, notify=notify)
    sessions.configure(info=info)
    if not event.contains(sessions, "after_commit", _after_commit):
        event.listen(sessions, "after_commit", _after_commit)
        event.listen(sessions, "after_rollback", _after_rollback)


def config_of(session: Session) -> OutboxConfig:
    config = session.info.get(_CONFIG_KEY)
    return config if isinstance(config, OutboxConfig) else OutboxConfig()


def _after_commit(session: Session) -> None:
    ids: list[int] = session.info.pop(_PENDING_KEY, [])
    notify = config_of(session).notify
    if not ids or notify is None:
        return
    try:
        notify(ids)
    except Exception:  # committed already: the sweep sends them a little later
        log.exception("could not queue %d webhook deliveries; the periodic sweep will", len(ids))


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


def subscribed(webhook: Webhook, event_type: str) -> bool:
    return webhook.events is None or event_type in webhook.events


def new_event_id() -> str:
    return "evt_" + str(uuid.uuid4())


def new_delivery_id() -> str:
    return "dlv_" + str(uuid.uuid4())


def emit(
    session: Session,
    event_type: str,
    *,
    account_id: int,
    subject_id: str,
    data: Callable[[OutboxConfig], dict[str, Any]],
    only: Webhook | None = None,
) -> WebhookEvent | None:
    """Record ``event_type`` about ``subject_id`` for every enabled webhook of the account that
    subscribes to it (or just ``only``); ``data`` renders the object (called only if someone listens).
    Returns the event, or None when nobody listens (no row is written then)."""
    assert event_type in EVENT_TYPES, event_type
    if only is not None:
        targets = [only]
    else:
        hooks = session.scalars(
            select(Webhook).where(Webhook.account_id == account_id, Webhook.enabled.is_(True))
        )
        targets = [w for w in hooks if subscribed(w, event_type)]
    if not targets:
        return None
    now = utcnow()
    public_id = new_event_id()
    body = {"id": public_id, "type": event_type, "createdAt": iso_ms(now), "data": data(config_of(session))}
    row = WebhookEvent(
        public_id=public_id,
        account_id=account_id,
        type=event_type,
        subject_id=subject_id,
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        created_at=now,
    )
    session.add(row)
    session.flush()
    deliveries = [
        WebhookDelivery(
            public_id=new_delivery_id(),
            webhook_id=w.id,
            event_id=row.id,
            status="pending",
            next_attempt_at=now,
            window_started_at=now,
            created_at=now,
        )
        for w in targets
    ]
    session.add_all(deliveries)
    session.flush()
    queue_after_commit(session, [d.id for d in deliveries])
    return row


def queue_after_commit(session: Session, delivery_ids: list[int]) -> None:
    """Hand ``delivery_ids`` to the queue once (and only if) this session's transaction commits."""
    session.info.setdefault(_PENDING_KEY, []).extend(delivery_ids)


def emitted(session: Session, event_type: str, subject_id: str) -> bool:
    """Whether ``event_type`` was already recorded for ``subject_id`` (for once-only events)."""
    query = select(WebhookEvent.id).where(
        WebhookEvent.subject_id == subject_id, WebhookEvent.type == event_type
    )
    return bool(session.scalar(select(exists(query))))
