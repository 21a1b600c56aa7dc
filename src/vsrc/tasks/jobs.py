"""Huey task bodies: thin entry points that take ids and run in the worker's context."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from vsrc.tasks.context import worker_context

if TYPE_CHECKING:
    from vsrc.tasks.queue import TaskQueue


def encode_media(media_id: str, task: Any = None) -> None:
    """Encode one media item to adaptive HLS (see ``vsrc.tasks.encode_job``)."""
    from vsrc.tasks.encode_job import run_encode_job

    run_encode_job(worker_context(), media_id, retries_left=int(getattr(task, "retries", 0) or 0))


@functools.cache
def _queue() -> TaskQueue:
    """This worker process's handle on the queue, for jobs that enqueue other jobs."""
    from vsrc.tasks.queue import build_queue

    return build_queue(worker_context().settings)


def requeue_stale() -> None:
    """Every minute: hand encodes of dead workers back to the queue."""
    from vsrc.tasks.recovery import requeue_stale as requeue

    requeue(worker_context(), _queue().enqueue_encode)
