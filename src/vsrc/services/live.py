"""Live streams: RTMP server selection and stream-key issuing.

``live.created``, ``live.started`` and ``live.ended`` go to the webhook outbox in the transaction of
the change (the ingest only writes rows; it never waits on a receiver)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from vsrc.db.models import LiveStream, Media, RtmpServer
from vsrc.errors import Conflict, FieldError, NotFound, PublishDenied, ValidationFailed
from vsrc.ids import LIVE_ID_RE, new_live_id
from vsrc.services import playback_policy as policy
from vsrc.storage import Storage
from vsrc.timeutil import utcnow
from vsrc.webhooks import outbox
from vsrc.webhooks.payloads import live_data

KEY_LIFETIME = timedelta(hours=24)


def validate_live_fields(*, title: str | None, description: str | None, region: str | None) -> None:
    errors = []
    for name, value in (("title", title), ("description", description), ("region", region)):
        if value and "\x00" in value:
            errors.append(FieldError(name, f"{name} must not contain NUL characters"))
    if not 1 <= len((title or "").strip()) <= 255:
        errors.append(FieldError("title", "title is required and must be 1 to 255 characters"))
    if description is not None and len(description) > 1000:
        errors.append(FieldError("description", "description must be at most 1000 characters"))
    if region is not None and not 1 <= len(region) <= 64:
        errors.append(FieldError("region", "region must be 1 to 64 characters"))
    if errors:
        raise ValidationFailed("Validation failed", errors)


# An ingest that has not heart-beaten for this long is taken as down (it beats every 5 s).
HEARTBEAT_STALE = timedelta(seconds=30)


def is_online(server: RtmpServer) -> bool:
    """Marked online, and heart-beating (servers that never report, e.g. an nginx fleet, count as up)."""
    beat = server.last_heartbeat_at
    return server.status == "online" and (beat is None or utcnow() - beat < HEARTBEAT_STALE)


def pick_server(session: Session, *, server_id: int | None, region: str | None) -> RtmpServer:
    """By id, else the least-loaded online server of ``region``, else the least-loaded online one."""
    if server_id is not None:
        # Well-formed but unusable choices are not validation errors: 404 for a server that does not
        # exist, 409 for one (or a region) with nothing online now.
        server = session.get(RtmpServer, server_id)
        if server is None:
            raise NotFound(f"Unknown RTMP server {server_id}")
        if not is_online(server):
            raise Conflict(f"RTMP server {server_id} is offline")
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
        .where(
            RtmpServer.status == "online",
            or_(
                RtmpServer.last_heartbeat_at.is_(None),
                RtmpServer.last_heartbeat_at > utcnow() - HEARTBEAT_STALE,
            ),
        )
        .order_by(func.coalesce(load.c.n, 0), RtmpServer.id)
    )
    if region is not None:
        query = query.where(RtmpServer.region == region)
    server = session.scalars(query.limit(1)).first()
    if server is None:
        where = f" in region {region!r}" if region is not None else ""
        raise Conflict(f"No online RTMP server{where}")
    return server


def create_live(
    session: Session,
    *,
    account_id: int,
    title: str,
    description: str | None,
    region: str | None,
    server_id: int | None,
    storage: Storage,
    playback_policy: str = policy.PUBLIC,
) -> LiveStream:
    """A new stream on an online server (``server_id``, or one in ``region``); a ``signed`` one gets its
    playback marker written here, before the caller commits the row (it fails closed, see
    services/playback_policy.py)."""
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
        playback_policy=playback_policy,
    )
    stream.server = server
    session.add(stream)
    session.flush()
    if playback_policy == policy.SIGNED:
        policy.mark_signed(storage, stream.public_id)
    _emit(session, "live.created", stream)
    return stream


def _emit(session: Session, event_type: str, stream: LiveStream) -> None:
    outbox.emit(
        session,
        event_type,
        account_id=stream.account_id,
        subject_id=stream.public_id,
        data=live_data(session, stream),
    )


def get_live(session: Session, *, account_id: int, public_id: str) -> LiveStream:
    if not LIVE_ID_RE.match(public_id):
        raise ValidationFailed.field("mediaId", "mediaId must look like live_<uuid>")
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
    """The ingest key check (exists, not expired, not revoked, not already live).

    Marks the stream ``live`` or raises ``PublishDenied`` (reason).

    ``active_here``: the keys the calling ingest serves right now, which is authoritative (a ``live``
    row it does not serve is left over from a crash). ``None`` (the nginx-rtmp hook, stateless):
    the row's status decides. ``server_id`` None accepts a key of any server."""
    if "\x00" in stream_key or "\x00" in app:
        raise PublishDenied("invalid stream key")
    if app != LIVE_APP:
        # Never echo the app: publishers that put the key in the app path would see it logged.
        raise PublishDenied(f"unknown application: publish to /{LIVE_APP}")
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
    _emit(session, "live.started", stream)
    return stream


def end_publish(
    session: Session, *, public_id: str | None = None, stream_key: str | None = None
) -> LiveStream | None:
    """Mark the stream (by id, or by key for the nginx-rtmp hook) ``ended``; None when it is gone."""
    column, value = (LiveStream.public_id, public_id) if public_id else (LiveStream.stream_key, stream_key)
    if value is None or "\x00" in value:
        return None
    stream = session.scalar(select(LiveStream).where(column == value))
    if stream is None:
        return None
    # Not only "live": a key reset mid-broadcast leaves the row "idle" while the publish goes on.
    was_running = stream.status != "ended"
    stream.status = "ended"
    session.flush()
    if was_running:
        _emit(session, "live.ended", stream)
    return stream


def end_all_live(session: Session, *, server_id: int) -> list[str]:
    """End every stream of ``server_id`` still marked ``live``; returns their ids."""
    streams = list(
        session.scalars(
            select(LiveStream).where(LiveStream.server_id == server_id, LiveStream.status == "live")
        )
    )
    for stream in streams:
        stream.status = "ended"
        session.flush()
        _emit(session, "live.ended", stream)
    return [s.public_id for s in streams]


def heartbeat_server(session: Session, *, server_id: int, online: bool = True) -> None:
    server = session.get(RtmpServer, server_id)
    if server is None:
        raise NotFound(f"RTMP server {server_id} not found")
    server.status = "online" if online else "offline"
    server.last_heartbeat_at = utcnow()


@dataclass(frozen=True)
class LivePage:
    items: list[LiveStream]
    page: int
    limit: int
    total: int


def list_live(session: Session, *, account_id: int, page: int = 1, limit: int = 20) -> LivePage:
    from vsrc.services.media import check_paging

    check_paging(page, limit)
    where = LiveStream.account_id == account_id
    total = session.scalar(select(func.count()).select_from(LiveStream).where(where)) or 0
    items = session.scalars(
        select(LiveStream)
        .where(where)
        .options(joinedload(LiveStream.server))
        .order_by(LiveStream.created_at.desc(), LiveStream.id.desc())
        .limit(limit)
        .offset((page - 1) * limit)
    )
    return LivePage(list(items), page, limit, total)


def recordings_of(session: Session, *, stream: LiveStream) -> list[Media]:
    return list(
        session.scalars(
            select(Media)
            .where(Media.live_stream_id == stream.id)
            .order_by(Media.created_at.desc(), Media.id.desc())
        )
    )


def reset_key(session: Session, *, account_id: int, public_id: str) -> LiveStream:
    """A new stream key valid for another 24 h; the old one stops working at once."""
    stream = get_live(session, account_id=account_id, public_id=public_id)
    stream.stream_key = f"{stream.server_id}_{secrets.token_hex(16)}"
    stream.expires_at = utcnow() + KEY_LIFETIME
    if stream.status == "live":
        # The running publish keeps going on the old key, but an nginx-rtmp on_publish_done will
        # name the old key: do not leave the new key blocked as "already publishing".
        stream.status = "idle"
    stream.revoked_at = None
    session.flush()
    return stream


def delete_live(session: Session, *, account_id: int, public_id: str) -> None:
    """Delete the live stream (its recordings stay, as ordinary VODs); files go after commit."""
    stream = get_live(session, account_id=account_id, public_id=public_id)
    session.delete(stream)
    session.flush()


def list_servers(session: Session) -> list[tuple[RtmpServer, int]]:
    """Every RTMP server with its number of streams live now."""
    load = (
        select(LiveStream.server_id, func.count().label("n"))
        .where(LiveStream.status == "live")
        .group_by(LiveStream.server_id)
        .subquery()
    )
    rows = session.execute(
        select(RtmpServer, func.coalesce(load.c.n, 0))
        .outerjoin(load, load.c.server_id == RtmpServer.id)
        .order_by(RtmpServer.id)
    ).all()
    return [(server, int(n)) for server, n in rows]
