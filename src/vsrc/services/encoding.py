"""The encode status machine on the media row: pending → processing → completed | failed.

A job claims its row with one conditional UPDATE, so a duplicate or retried job never runs twice at
once; while it runs it refreshes ``encode_heartbeat_at``; a row left ``processing`` with a stale
heartbeat belongs to a dead worker and is handed back to the queue (``stale_jobs``).
``media.playable``, ``media.completed`` and ``media.failed`` are written to the webhook outbox in the
transaction that records them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session

from vsrc.db.models import Media
from vsrc.timeutil import utcnow
from vsrc.webhooks import outbox
from vsrc.webhooks.payloads import media_data


def claim(session: Session, *, public_id: str, stale_after: float) -> Media | None:
    """Mark the media ``processing`` for this job; None when gone, finished or held by a live worker."""
    now = utcnow()
    stale = now - timedelta(seconds=stale_after)
    result = session.execute(
        update(Media)
        .where(
            Media.public_id == public_id,
            or_(
                Media.encoding_status == "pending",
                and_(Media.encoding_status == "processing", Media.encode_heartbeat_at < stale),
            ),
        )
        .values(
            encoding_status="processing",
            encoding_progress=0,
            error_message=None,
            encode_heartbeat_at=now,
            encode_attempts=Media.encode_attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        return None
    return session.scalar(select(Media).where(Media.public_id == public_id))


def heartbeat(session: Session, *, media_id: int, attempt: int, progress: int | None = None) -> bool:
    """Refresh the heartbeat (and progress, never backwards); False when the row is gone, finished or
    claimed by a later attempt (another worker took over a job it thought dead)."""
    values: dict[str, object] = {"encode_heartbeat_at": utcnow()}
    query = update(Media).where(
        Media.id == media_id, Media.encoding_status == "processing", Media.encode_attempts == attempt
    )
    if progress is not None:
        values["encoding_progress"] = progress
        values["updated_at"] = utcnow()
        query = query.where(Media.encoding_progress <= progress)
    result = session.execute(query.values(**values).execution_options(synchronize_session=False))
    if cast(CursorResult[Any], result).rowcount == 1:
        return True
    # No row updated with a progress value may only mean the progress did not rise.
    row = session.execute(
        select(Media.encoding_status, Media.encode_attempts).where(Media.id == media_id)
    ).first()
    return row is not None and tuple(row) == ("processing", attempt)


def finish(session: Session, *, media_id: int, attempt: int, status: str, error: str | None = None) -> None:
    """End the job: ``completed`` (progress 100), ``failed`` (with a human message) or back to
    ``pending`` for a retry; a no-op when a later attempt owns the row."""
    values: dict[str, object] = {"encoding_status": status, "error_message": error, "updated_at": utcnow()}
    if status == "completed":
        values["encoding_progress"] = 100
    if status != "processing":
        values["encode_heartbeat_at"] = None
    result = session.execute(
        update(Media)
        .where(Media.id == media_id, Media.encode_attempts == attempt)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if status in ("completed", "failed") and cast(CursorResult[Any], result).rowcount == 1:
        _emit(session, f"media.{status}", media_id)


def mark_playable(session: Session, *, media_id: int, attempt: int) -> None:
    """Every rung lists a segment: emit ``media.playable`` once per media (a no-op for a stale attempt)."""
    media = session.get(Media, media_id)
    if media is None or media.encode_attempts != attempt or media.encoding_status != "processing":
        return
    if not outbox.emitted(session, "media.playable", media.public_id):
        _emit(session, "media.playable", media_id)


def _emit(session: Session, event_type: str, media_id: int) -> None:
    media = session.get(Media, media_id, populate_existing=True)
    if media is not None:
        outbox.emit(
            session,
            event_type,
            account_id=media.account_id,
            subject_id=media.public_id,
            data=media_data(media),
        )


def stale_jobs(session: Session, *, stale_after: float) -> list[str]:
    """Public ids of media stuck in ``processing`` whose worker stopped heart-beating."""
    stale = utcnow() - timedelta(seconds=stale_after)
    query = select(Media.public_id).where(
        Media.encoding_status == "processing",
        or_(Media.encode_heartbeat_at.is_(None), Media.encode_heartbeat_at < stale),
    )
    return list(session.scalars(query))


def forgotten_jobs(session: Session, *, older_than: float) -> list[str]:
    """Public ids of media ``pending`` and untouched for ``older_than`` seconds (their job may have
    been lost, e.g. the queue was down at upload time); their ``updated_at`` is bumped, so each is
    re-queued at most once per period. A duplicate job is harmless: ``claim`` lets one run."""
    cutoff = utcnow() - timedelta(seconds=older_than)
    ids = list(
        session.scalars(
            select(Media.public_id).where(Media.encoding_status == "pending", Media.updated_at < cutoff)
        )
    )
    if ids:
        session.execute(
            update(Media)
            .where(Media.public_id.in_(ids))
            .values(updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    return ids
