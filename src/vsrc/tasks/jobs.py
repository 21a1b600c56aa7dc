"""Huey task bodies: thin entry points that take ids and run in the worker's context."""

from __future__ import annotations

from typing import Any

from vsrc.tasks.context import worker_context


def encode_media(media_id: str, task: Any = None) -> None:
    """Encode one media item to adaptive HLS (see ``vsrc.tasks.encode_job``)."""
    from vsrc.tasks.encode_job import run_encode_job

    run_encode_job(worker_context(), media_id, retries_left=int(getattr(task, "retries", 0) or 0))


def requeue_stale() -> None:
    """Every minute: hand encodes of dead workers back to the queue."""
    from vsrc.tasks.queue import build_queue
    from vsrc.tasks.recovery import requeue_stale as requeue

    ctx = worker_context()
    requeue(ctx, build_queue(ctx.settings).enqueue_encode)
