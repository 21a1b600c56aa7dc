"""Live streams: RTMP server selection and stream-key issuing."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from vsrc.db.models import LiveStream, RtmpServer
from vsrc.errors import FieldError, NotFound, PublishDenied, ValidationFailed
from vsrc.ids import new_live_id
from vsrc.timeutil import utcnow

KEY_LIFETIME = timedelta(hours=24)


def validate_live_fields(*, title: str | None, description: str | None, region: str | None) -> None:
    errors = []
    if not 1 <= len((title or "").strip()) <= 255:
        errors.append(FieldError("title", "title is required and must be 1 to 255 characters"))
    if description is not None and len(description) > 1000:
        errors.append(FieldError("description", "description must be at most 1000 characters"))
    if region is not None and not 1 <= len(region) <= 64:
        errors.append(FieldError("region", "region must be 1 to 64 characters"))
    if errors:
        raise ValidationFailed("Validation failed", errors)


def pick_server(session: Session, *, server_id: int | None, region: str | None) -> RtmpServer:
    """By id, else the least-loaded online server of ``region``, else the least-loaded online one."""
    if server_id is not None:
        server = session.get(RtmpServer, server_id)
        if server is None:
            raise ValidationFailed.field("serverId", f"unknown RTMP server {server_id}")
        if server.status != "online":
            raise ValidationFailed.field("serverId", f"RTMP server {server_id} is {server.status}")
        return server
    load = (
        select(LiveStream.server_id, func.count().label("n"))
        .where(LiveStream.status == "live")
        .group_by(LiveStream.server_id)
        .subquery()
    )
    query = (
        select(RtmpServer)
        .outerjoin(load, load.c.server_id == RtmpServer.id)
        .where(RtmpServer.status == "online")
        .order_by(func.coalesce(load.c.n, 0), RtmpServer.id)
    )
    if region is not None:
        query = query.where(RtmpServer.region == region)
    server = session.scalars(query.limit(1)).first()
    if server is None:
        field = "region" if region is not None else "serverId"
        where = f" in region {region!r}" if region is not None else ""
        raise ValidationFailed.field(field, f"no online RTMP server{where}")
    return server


def create_live(
    session: Session,
    *,
    account_id: int,
    title: str,
    description: str | None,
    region: str | None,
    server_id: int | None,
) -> LiveStream:
    validate_live_fields(title=title, description=description, region=region)
    server = pick_server(session, server_id=server_id, region=region)
    stream = LiveStream(
        public_id=new_live_id(),
        account_id=account_id,
        server_id=server.id,
        title=title.strip(),
        description=description or None,
        stream_key=f"{server.id}_{secrets.token_hex(16)}",
        status="idle",
        expires_at=utcnow() + KEY_LIFETIME,
    )
    stream.server = server
    session.add(stream)
    session.flush()
    return stream


def get_live(session: Session, *, account_id: int, public_id: str) -> LiveStream:
    stream = session.scalar(
        select(LiveStream)
        .where(LiveStream.public_id == public_id, LiveStream.account_id == account_id)
        .options(joinedload(LiveStream.server))
    )
    if stream is None:
        raise NotFound("Live stream not found")
    return stream


LIVE_APP = "live"


def authorize_publish(
    session: Session, *, app: str, stream_key: str, server_id: int | None, active_here: frozenset[str] | None
) -> LiveStream:
    """The key check of DESIGN.md §7; marks the stream ``live`` or raises ``PublishDenied`` (reason).

    ``active_here``: the keys the calling ingest serves right now, which is authoritative (a ``live``
    row it does not serve is left over from a crash). ``None`` (the nginx-rtmp hook, stateless):
    the row's status decides. ``server_id`` None accepts a key of any server."""
    if app != LIVE_APP:
        raise PublishDenied(f"unknown application {app!r}: publish to /{LIVE_APP}")
    stream = session.scalar(
        select(LiveStream).where(LiveStream.stream_key == stream_key).options(joinedload(LiveStream.server))
    )
    if stream is None:
        raise PublishDenied("unknown stream key")
    now = utcnow()
    if stream.revoked_at is not None:
        raise PublishDenied("stream key revoked")
    if stream.expires_at <= now:
        raise PublishDenied("stream key expired")
    if server_id is not None and stream.server_id != server_id:
        raise PublishDenied(f"this key belongs to RTMP server {stream.server_id}")
    busy = stream.status == "live" if active_here is None else stream_key in active_here
    if busy:
        raise PublishDenied("stream key is already publishing")
    stream.status = "live"
    stream.session_started_at = now
    session.flush()
    return stream


def end_publish(session: Session, *, stream_key: str) -> LiveStream | None:
    """Mark the stream ``ended``; returns it (None when it was deleted meanwhile)."""
    stream = session.scalar(select(LiveStream).where(LiveStream.stream_key == stream_key))
    if stream is None:
        return None
    stream.status = "ended"
    session.flush()
    return stream


def end_all_live(session: Session, *, server_id: int) -> list[str]:
    """End every stream of ``server_id`` still marked ``live``; returns their keys."""
    streams = list(
        session.scalars(select(LiveStream).where(LiveStream.server_id == server_id, LiveStream.status == "live"))
    )
    for stream in streams:
        stream.status = "ended"
    return [s.stream_key for s in streams]


def heartbeat_server(session: Session, *, server_id: int, online: bool = True) -> None:
    server = session.get(RtmpServer, server_id)
    if server is None:
        raise NotFound(f"RTMP server {server_id} not found")
    server.status = "online" if online else "offline"
    server.last_heartbeat_at = utcnow()
