"""Re-queue encodes whose worker died (SIGKILL, power loss): their heartbeat went stale."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from vsrc.db.session import transaction
from vsrc.services import encoding

if TYPE_CHECKING:
    from vsrc.runtime import Runtime


log = logging.getLogger("vsrc.tasks.recovery")

# Well above the retry delay; a long queue only costs one harmless duplicate job per period.
FORGOTTEN_AFTER = 600.0


def requeue_stale(ctx: Runtime, enqueue: Callable[[str], None]) -> list[str]:
    """Enqueue a fresh job for every stale ``processing`` media, and for ``pending`` media nobody
    touched for ``FORGOTTEN_AFTER`` seconds; returns their ids."""
    with transaction(ctx.sessions) as session:
        stale = encoding.stale_jobs(session, stale_after=ctx.settings.encode_stale_seconds)
        forgotten = encoding.forgotten_jobs(session, older_than=FORGOTTEN_AFTER)
    for public_id in stale:
        log.warning("encode %s: worker stopped heart-beating; re-queued", public_id)
    for public_id in forgotten:
        log.warning("encode %s: pending for long; re-queued in case its job was lost", public_id)
    for public_id in stale + forgotten:
        enqueue(public_id)
    return stale + forgotten
