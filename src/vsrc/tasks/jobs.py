"""Huey task bodies: thin entry points that take the process's runtime and ids.

``vsrc.tasks.queue`` registers them bound to a ``Runtime``; nothing here imports the queue module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vsrc.runtime import Runtime


def encode_media(runtime: Runtime, media_id: str, *, retries_left: int) -> None:
    """Encode one media item to adaptive HLS (see ``vsrc.tasks.encode_job``)."""
    from vsrc.tasks.encode_job import run_encode_job

    run_encode_job(runtime, media_id, retries_left=retries_left)


def requeue_stale(runtime: Runtime) -> None:
    """Every minute: hand encodes of dead workers back to the queue."""
    from vsrc.tasks.recovery import requeue_stale as requeue

    requeue(runtime, runtime.queue.enqueue_encode)


def sweep_orphans(runtime: Runtime) -> None:
    """Every ``VSRC_ORPHAN_SWEEP_MINUTES``: remove stored files whose item has no row. Every worker of
    a fleet queues it; a second sweep finds nothing left to do (no lock: a killed worker's lock
    would stop the sweep for good)."""
    from vsrc.services.orphans import sweep_orphans as sweep

    sweep(runtime.sessions, runtime.storage, min_age=runtime.settings.orphan_min_age)


def deliver_webhook(runtime: Runtime, delivery_id: int) -> None:
    """Send one webhook delivery; a failure schedules its retry (see ``vsrc.tasks.webhook_job``)."""
    from vsrc.tasks.webhook_job import run_delivery

    run_delivery(runtime, delivery_id, runtime.queue.schedule_delivery)


def sweep_webhooks(runtime: Runtime) -> None:
    """Every minute: queue deliveries whose task was lost (queue down, worker killed)."""
    from vsrc.tasks.webhook_job import sweep

    sweep(runtime, runtime.queue.enqueue_deliveries)
