"""Sending one delivery: claim it, POST the signed body, record the attempt, plan the retry.

At-least-once: the row is claimed with a lease (a duplicate task finds it taken), the attempt is
recorded after the POST, and a worker that dies in between leaves the lease to expire and the
sweep to re-queue it — the receiver may then see the same event id twice, never zero times.
The network part (``send``) runs outside any database transaction.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import httpx
from sqlalchemy import CursorResult, delete, exists, or_, select, update
from sqlalchemy.orm import Session

from vsrc import __version__
from vsrc.db.models import Webhook, WebhookDelivery, WebhookEvent
from vsrc.timeutil import utcnow
from vsrc.webhooks.signatures import signature_header
from vsrc.webhooks.targets import TargetRefused, resolve

log = logging.getLogger("vsrc.webhooks.delivery")

MAX_RETRY_DELAY = 3600.0
# A scheduled retry may run a little early (the queue's scheduler ticks every second).
EARLY_SLACK = timedelta(seconds=2)
# Re-queued by the sweep when this late: the task that should have sent it was lost.
LOST_AFTER = timedelta(seconds=30)
MAX_ERROR = 500
# Events and their delivery log are kept this long (and while a delivery is still pending).
RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class Policy:
    timeout: float
    retry_base: float
    retry_window: float
    allow_private: bool


@dataclass(frozen=True)
class Job:
    """What one attempt needs, read while claiming (the row stays locked for ``lease``)."""

    delivery_id: int
    url: str
    secret: str
    event_id: str
    event_type: str
    body: bytes


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    latency_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def retry_delay(attempts: int, base: float) -> float:
    """Seconds before attempt ``attempts + 1``: ``base`` doubled per attempt, at most an hour, ±10 %."""
    delay: float = min(base * 2.0 ** max(attempts - 1, 0), MAX_RETRY_DELAY)
    return delay * random.uniform(0.9, 1.1)


def claim(session: Session, *, delivery_id: int, lease: float) -> Job | None:
    """Take the delivery if it is pending, due and not held by another worker; None otherwise."""
    now = utcnow()
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now + EARLY_SLACK,
            or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now),
        )
        .values(locked_until=now + timedelta(seconds=lease))
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        return None
    row = session.execute(
        select(Webhook.url, Webhook.secret, WebhookEvent.public_id, WebhookEvent.type, WebhookEvent.body)
        .select_from(WebhookDelivery)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id == delivery_id)
    ).one()
    return Job(delivery_id, row[0], row[1], row[2], row[3], row[4].encode())


def send(job: Job, policy: Policy, client: httpx.Client) -> Attempt:
    """POST the event once; never raises for a network or receiver failure (it is the result)."""
    start = time.monotonic()
    try:
        target = resolve(job.url, allow_private=policy.allow_private)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"VSRC-Webhooks/{__version__}",
            "Host": target.host_header,
            "VSRC-Event-Id": job.event_id,
            "VSRC-Event-Type": job.event_type,
            "VSRC-Signature": signature_header(job.secret, job.body),
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        # Streamed and never read: a receiver's answer body is of no use and could be huge.
        with client.stream(
            "POST",
            target.pinned_url,
            content=job.body,
            headers=headers,
            extensions=extensions,
            timeout=policy.timeout,
        ) as response:
            status = response.status_code
        latency = int((time.monotonic() - start) * 1000)
        return Attempt(status, latency, None if 200 <= status < 300 else f"HTTP {status}")
    except TargetRefused as exc:
        return Attempt(None, int((time.monotonic() - start) * 1000), f"refused: {exc}"[:MAX_ERROR])
    except httpx.HTTPError as exc:
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
        message = f"{kind}: {exc}" if str(exc) else kind
        return Attempt(None, int((time.monotonic() - start) * 1000), message[:MAX_ERROR])


def record(session: Session, *, job: Job, attempt: Attempt, policy: Policy) -> float | None:
    """Store the attempt; returns the delay of the next one, or None (delivered, or given up)."""
    delivery = session.get(WebhookDelivery, job.delivery_id, with_for_update=True)
    if delivery is None:  # the webhook was deleted meanwhile
        return None
    now = utcnow()
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = attempt.status_code
    delivery.last_latency_ms = attempt.latency_ms
    delivery.last_error = attempt.error
    delivery.locked_until = None
    if attempt.ok:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
        return None
    delay = retry_delay(delivery.attempts, policy.retry_base)
    window_end = delivery.window_started_at + timedelta(seconds=policy.retry_window)
    if now + timedelta(seconds=delay) > window_end:
        delivery.status, delivery.next_attempt_at = "failed", None
        log.warning("webhook delivery %s failed for good: %s", delivery.public_id, attempt.error)
        return None
    delivery.next_attempt_at = now + timedelta(seconds=delay)
    return delay


def lost_deliveries(session: Session, *, limit: int = 1000) -> list[int]:
    """Pending deliveries overdue by ``LOST_AFTER`` and not held: their task never ran."""
    now = utcnow()
    query = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at < now - LOST_AFTER,
            or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now),
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def redeliver_now(session: Session, delivery: WebhookDelivery) -> None:
    """Make ``delivery`` pending and due now, with a fresh retry window."""
    now = utcnow()
    delivery.status = "pending"
    delivery.next_attempt_at = now
    delivery.window_started_at = now
    delivery.delivered_at = None
    session.flush()


def prune(session: Session, *, older_than: timedelta = RETENTION) -> int:
    """Delete events older than ``older_than`` with no pending delivery (their log goes with them)."""
    pending = select(WebhookDelivery.id).where(
        WebhookDelivery.event_id == WebhookEvent.id, WebhookDelivery.status == "pending"
    )
    result = session.execute(
        delete(WebhookEvent)
        .where(WebhookEvent.created_at < utcnow() - older_than, ~exists(pending))
        .execution_options(synchronize_session=False)
    )
    return int(cast(CursorResult[Any], result).rowcount or 0)
