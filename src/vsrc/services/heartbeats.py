"""Liveness of background processes, stored in the database so every API process (a fleet too) can
report it: workers beat in ``process_heartbeats``, ingest servers in ``rtmp_servers``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vsrc.db.models import ProcessHeartbeat, RtmpServer
from vsrc.timeutil import utcnow

# Rows of processes dead for longer than this are dropped by the next worker that starts.
FORGET_AFTER = timedelta(hours=1)


def beat(session: Session, *, kind: str, instance: str, host: str, pid: int, state: str) -> None:
    """Record that ``instance`` is alive now, in ``state`` (e.g. ``running``)."""
    row = session.scalar(select(ProcessHeartbeat).where(ProcessHeartbeat.instance == instance))
    now = utcnow()
    if row is None:
        session.add(
            ProcessHeartbeat(
                kind=kind, instance=instance, host=host, pid=pid, state=state, started_at=now, beat_at=now
            )
        )
    else:
        row.beat_at, row.state = now, state


def forget(session: Session, *, instance: str) -> None:
    """A clean stop: the process is gone on purpose, not stale."""
    session.execute(delete(ProcessHeartbeat).where(ProcessHeartbeat.instance == instance))


def forget_long_dead(session: Session) -> None:
    session.execute(delete(ProcessHeartbeat).where(ProcessHeartbeat.beat_at < utcnow() - FORGET_AFTER))


@dataclass
class Liveness:
    """What ``/health`` says about the background processes."""

    workers_alive: int = 0
    workers_paused: list[str] = field(default_factory=list)
    workers_stale: list[str] = field(default_factory=list)
    ingest_online: int = 0
    ingest_stale: list[str] = field(default_factory=list)


def _ago(when: datetime, now: datetime) -> str:
    return f"{int((now - when).total_seconds())} s ago"


def liveness(session: Session, *, stale_after: float) -> Liveness:
    """Workers and ingest servers whose last beat is newer than ``stale_after`` seconds are alive."""
    now = utcnow()
    horizon = now - timedelta(seconds=stale_after)
    result = Liveness()
    for row in session.scalars(select(ProcessHeartbeat).where(ProcessHeartbeat.kind == "worker")):
        name = f"worker {row.host}:{row.pid}"
        if row.beat_at < horizon:
            result.workers_stale.append(f"{name}: last heartbeat {_ago(row.beat_at, now)}")
            continue
        result.workers_alive += 1
        if row.state != "running":
            result.workers_paused.append(f"{name}: {row.state}")
    for server in session.scalars(select(RtmpServer).where(RtmpServer.status == "online")):
        beat_at = server.last_heartbeat_at
        if beat_at is not None and beat_at < horizon:
            result.ingest_stale.append(
                f"ingest server {server.id} ({server.name}): last heartbeat {_ago(beat_at, now)}"
            )
        elif beat_at is not None:
            result.ingest_online += 1
    return result
