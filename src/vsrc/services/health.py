"""``/health``: ``ok``, or ``degraded`` with the reasons (docs/architecture.md#failure-modes-and-limits)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from vsrc.config import Settings
from vsrc.services import diskspace, heartbeats

# A process is stale after missing this many beats (ingest servers beat at the same interval).
STALE_BEATS = 6


def stale_after(settings: Settings) -> float:
    return STALE_BEATS * settings.heartbeat_seconds


def report(session: Session, settings: Settings) -> dict[str, Any]:
    """The health document: database reachable, disk above the watermark, a live worker, no ingest
    server that stopped beating while marked online."""
    session.execute(text("SELECT 1"))
    reasons: list[str] = []
    disk = diskspace.low_space_reason(settings)
    if disk:
        reasons.append(disk)
    alive = heartbeats.liveness(session, stale_after=stale_after(settings))
    if not alive.workers_alive:
        reasons.append("no worker is running: encodes wait")
        reasons.extend(alive.workers_stale)
    reasons.extend(alive.workers_paused)
    reasons.extend(alive.ingest_stale)
    _path, free = diskspace.lowest_free(settings)
    return {
        "status": "degraded" if reasons else "ok",
        "reasons": reasons,
        "workers": {"alive": alive.workers_alive, "stale": alive.workers_stale},
        "ingest": {"online": alive.ingest_online, "stale": alive.ingest_stale},
        "disk": {"freeBytes": free, "minFreeBytes": settings.min_free_bytes},
    }
