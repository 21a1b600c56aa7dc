"""Webhook delivery jobs: one attempt per task, retries scheduled with back-off, a sweep for lost ones."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import httpx

from vsrc.config import Settings
from vsrc.db.session import transaction
from vsrc.runtime import Runtime
from vsrc.webhooks import delivery

log = logging.getLogger("vsrc.tasks.webhooks")

# Longer than any attempt (timeout + bookkeeping): a lease outliving its worker just delays a retry.
LEASE_MARGIN = 30.0


def policy_for(settings: Settings) -> delivery.Policy:
    return delivery.Policy(
        timeout=settings.webhook_timeout_seconds,
        retry_base=settings.webhook_retry_base_seconds,
        retry_window=settings.webhook_retry_window_seconds,
        allow_private=settings.webhook_allow_private,
    )


@functools.cache
def http_client() -> httpx.Client:
    """One connection pool per worker process; no redirects (a 3xx is a failure, and could point
    anywhere), no proxies from the environment (the checked address is the one we connect to)."""
    return httpx.Client(follow_redirects=False, trust_env=False)


def run_delivery(ctx: Runtime, delivery_id: int, schedule: Callable[[int, float], None]) -> None:
    policy = policy_for(ctx.settings)
    with transaction(ctx.sessions) as session:
        job = delivery.claim(session, delivery_id=delivery_id, lease=policy.timeout + LEASE_MARGIN)
    if job is None:
        return  # delivered, gone, not due yet, or being sent by another worker
    attempt = delivery.send(job, policy, http_client())
    with transaction(ctx.sessions) as session:
        delay = delivery.record(session, job=job, attempt=attempt, policy=policy)
    if attempt.ok:
        log.info("webhook %s %s delivered in %d ms", job.event_type, job.event_id, attempt.latency_ms)
        return
    log.info("webhook %s %s attempt failed: %s", job.event_type, job.event_id, attempt.error)
    if delay is not None:
        schedule(delivery_id, delay)


def sweep(ctx: Runtime, enqueue: Callable[[list[int]], None]) -> list[int]:
    """Queue lost deliveries and drop events past their retention; returns the ids queued."""
    with transaction(ctx.sessions) as session:
        lost = delivery.lost_deliveries(session)
        pruned = delivery.prune(session)
    if pruned:
        log.info("pruned %d webhook events older than %s", pruned, delivery.RETENTION)
    if lost:
        log.warning("re-queueing %d webhook deliveries whose task was lost", len(lost))
        enqueue(lost)
    return lost
