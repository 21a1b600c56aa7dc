"""Re-queue encodes whose worker died (SIGKILL, power loss): their heartbeat went stale."""

from __future__ import annotations

import logging
from collections.abc import Callable

from vsrc.db.session import transaction
from vsrc.services import encoding
from vsrc.tasks.context import WorkerContext

log = logging.getLogger("vsrc.tasks.recovery")


def requeue_stale(ctx: WorkerContext, enqueue: Callable[[str], None]) -> list[str]:
    """Enqueue a fresh job for every stale ``processing`` media; returns their ids."""
    with transaction(ctx.sessions) as session:
        ids = encoding.stale_jobs(session, stale_after=ctx.settings.encode_stale_seconds)
    for public_id in ids:
        log.warning("encode %s: worker stopped heart-beating; re-queued", public_id)
        enqueue(public_id)
    return ids
