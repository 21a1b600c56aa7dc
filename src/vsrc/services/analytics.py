"""Player analytics, write side: validate, rate-limit and store VSRCPlayer events; purge old ones.

The read side (views, watch time, daily series) is ``vsrc.services.analytics_stats``.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session, sessionmaker

from vsrc.db.models import AnalyticsEvent, LiveStream, Media
from vsrc.db.session import transaction
from vsrc.errors import FieldError, NotFound, PayloadTooLarge, RateLimited, ValidationFailed
from vsrc.timeutil import utcnow

log = logging.getLogger("vsrc.analytics")

EVENT_TYPES = ("play", "pause", "seek", "ended", "error", "buffer", "quality_change")
MAX_BATCH_EVENTS = 100
MAX_BODY_BYTES = 64 * 1024
MAX_DATA_BYTES = 2048
MAX_FIELD_ERRORS = 20
MAX_ERROR_MESSAGE = 1000
NAME_KEYS = ("event", "type", "eventType")
MAX_POSITION = 10_000_000.0  # seconds (~115 days): beyond that it is no playback position
TS_RANGE = (946_684_800_000, 4_102_444_800_000)  # client epoch ms: years 2000..2100
SESSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$")
MEDIA_RE = re.compile(r"^(vod|live)_[0-9a-f-]{8,59}$")
QUALITY_RE = re.compile(r"^[\w.+ -]{1,32}$")


@dataclass(frozen=True)
class PlayerEvent:
    """One validated event (``mediaId`` not yet checked against the database)."""

    event: str
    session_id: str
    media_id: str
    current_time: float
    duration: float | None
    quality: str | None
    client_ts: int | None
    data: dict[str, Any] | None


@dataclass
class IngestResult:
    accepted: int = 0
    dropped: int = 0  # over a rate limit: not stored
    errors: list[FieldError] = field(default_factory=list)  # invalid events: not stored


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a finite number")


def decode_payload(raw: bytes) -> Any:
    """Parse a request body or WebSocket frame as JSON, whatever its declared content type."""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Analytics payloads are limited to {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ValidationFailed.field("body", "must be a JSON document") from exc


def payload_items(payload: Any) -> tuple[list[Any], bool]:
    """The events of ``{"events": [...]}`` (1..100), or ``[payload]`` for a bare event object.

    The original VSRCPlayer wraps them for its WebSocket: ``{"type": "batch", "payload": {"events":
    [...]}}`` and ``{"type": "event", "payload": {...}}``; those envelopes are unwrapped first.
    Returns ``(items, single)``; every endpoint accepts every shape.
    """
    if isinstance(payload, dict) and payload.get("type") in ("batch", "event") and "payload" in payload:
        kind, payload = payload["type"], payload["payload"]
        if kind == "event" and not isinstance(payload, dict):
            raise ValidationFailed.field("payload", "must be an event object")
        if kind == "batch" and not (isinstance(payload, dict) and "events" in payload):
            raise ValidationFailed.field("payload", 'must be {"events": [...]}')
    if isinstance(payload, dict) and "events" not in payload:
        return [payload], True
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_BATCH_EVENTS:
        raise ValidationFailed.field("events", f"must be a list of 1 to {MAX_BATCH_EVENTS} events")
    return events, False


def finite(value: Any, low: float, high: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and low <= number <= high else None


def parse_event(item: Any, where: str) -> tuple[PlayerEvent | None, list[FieldError]]:
    """Validate one wire event; ``where`` prefixes the field names of the errors (``events[3]``)."""
    name = (lambda f: f"{where}.{f}") if where else (lambda f: f)
    if not isinstance(item, dict):
        return None, [FieldError(where or "body", "must be an event object")]
    errors: list[FieldError] = []
    # Our player names the event in ``event`` (and ``type``), the original VSRCPlayer in ``eventType``.
    names = [item[key] for key in NAME_KEYS if key in item]
    kind = names[0] if names else None
    if kind not in EVENT_TYPES or any(other != kind for other in names):
        errors.append(FieldError(name("event"), f"must be one of {', '.join(EVENT_TYPES)}"))
    session_id, media_id = item.get("sessionId"), item.get("mediaId")
    if not isinstance(session_id, str) or not SESSION_RE.match(session_id):
        errors.append(FieldError(name("sessionId"), "must be an id of 8 to 64 letters, digits or dashes"))
    if not isinstance(media_id, str) or not MEDIA_RE.match(media_id):
        errors.append(FieldError(name("mediaId"), "must be a vod_… or live_… media id"))
    position = finite(item.get("currentTime", 0), 0, MAX_POSITION)
    if position is None:
        errors.append(FieldError(name("currentTime"), "must be a number of seconds"))
    duration = item.get("duration")
    if duration is not None and (duration := finite(duration, 0, MAX_POSITION)) is None:
        errors.append(FieldError(name("duration"), "must be a number of seconds or null"))
    quality = item.get("quality")
    if quality is not None and (not isinstance(quality, str) or not QUALITY_RE.match(quality)):
        errors.append(FieldError(name("quality"), "must be a rendition label such as 720p, or null"))
    stamp = item.get("timestamp")
    if stamp is not None and (stamp := finite(stamp, *TS_RANGE)) is None:
        errors.append(FieldError(name("timestamp"), "must be epoch milliseconds"))
    if item.get("playerType") not in (None, "vod", "live"):
        errors.append(FieldError(name("playerType"), "must be vod, live or null"))
    data_key = "data" if "data" in item else "metadata"  # ours / the original VSRCPlayer's
    data = item.get(data_key)
    if data is not None and not isinstance(data, dict):
        errors.append(FieldError(name(data_key), "must be an object or null"))
        data = None
    extra, extra_errors = _original_fields(item, name)
    errors += extra_errors
    if extra:
        data = {**(data or {}), **extra}
    if data is not None and len(json.dumps(data)) > MAX_DATA_BYTES:
        errors.append(FieldError(name(data_key), f"must be an object of at most {MAX_DATA_BYTES} bytes"))
    if errors:
        return None, errors
    event = PlayerEvent(
        event=str(kind),
        session_id=str(session_id),
        media_id=str(media_id),
        current_time=cast(float, position),
        duration=duration,
        quality=quality,
        client_ts=None if stamp is None else int(stamp),
        data=data,
    )
    return event, []


def _original_fields(
    item: dict[str, Any], name: Callable[[str], str]
) -> tuple[dict[str, Any], list[FieldError]]:
    """The original VSRCPlayer's ``bufferDuration`` and ``errorMessage``, kept in the event's data."""
    extra: dict[str, Any] = {}
    errors: list[FieldError] = []
    buffered = item.get("bufferDuration")
    if buffered is not None:
        if (seconds := finite(buffered, 0, MAX_POSITION)) is None:
            errors.append(FieldError(name("bufferDuration"), "must be a number of seconds or null"))
        elif seconds > 0:  # the original sends 0 with every event: no news, not stored
            extra["bufferDuration"] = seconds
    message = item.get("errorMessage")
    if message is not None:
        if not isinstance(message, str) or len(message) > MAX_ERROR_MESSAGE:
            errors.append(
                FieldError(name("errorMessage"), f"must be text of at most {MAX_ERROR_MESSAGE} chars")
            )
        else:
            extra["errorMessage"] = message
    return extra, errors


def media_owners(session: Session, media_ids: Iterable[str]) -> dict[str, int]:
    """``{public id: owning account id}`` for the ids that exist (VOD media or live streams)."""
    ids = set(media_ids)
    vod = [i for i in ids if i.startswith("vod_")]
    lives = [i for i in ids if i.startswith("live_")]
    owners: dict[str, int] = {}
    if vod:
        query = select(Media.public_id, Media.account_id).where(Media.public_id.in_(vod))
        owners.update({str(public_id): int(account_id) for public_id, account_id in session.execute(query)})
    if lives:
        query = select(LiveStream.public_id, LiveStream.account_id).where(LiveStream.public_id.in_(lives))
        owners.update({str(public_id): int(account_id) for public_id, account_id in session.execute(query)})
    return owners


def purge_old_events(session: Session, *, older_than: datetime) -> int:
    """Delete events received before ``older_than`` (naive UTC); returns how many."""
    result = session.execute(delete(AnalyticsEvent).where(AnalyticsEvent.created_at < older_than))
    return int(cast(CursorResult[Any], result).rowcount or 0)


class AnalyticsIngest:
    """Validates, rate-limits (per client IP and per player session) and stores events; one per app.

    Events over a limit are dropped and counted in ``counts``; every ``purge_interval`` seconds at
    most, an ingest also deletes events older than ``retention_days``.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        ip_limit: str,
        session_limit: str,
        retention_days: int,
        storage_uri: str = "memory://",
        purge_interval: float = 3600.0,
    ) -> None:
        self.sessions = sessions
        self.ip_item = parse(ip_limit)
        self.session_item = parse(session_limit)
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self.retention = timedelta(days=retention_days)
        self.purge_interval = purge_interval
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._next_purge = 0.0
        self._next_drop_log = 0.0

    def ingest(self, items: list[Any], *, client_ip: str, strict: bool, single: bool = False) -> IngestResult:
        """Store the valid events of ``items``.

        ``strict`` (HTTP): any invalid event raises ``ValidationFailed`` and nothing is stored, and
        ``RateLimited`` is raised when every valid event is over a rate limit. Otherwise (WebSocket)
        invalid events are skipped and listed in the result, and drops are only counted.
        """
        result = IngestResult()
        parsed: list[tuple[int, PlayerEvent]] = []
        for index, item in enumerate(items):
            event, errors = parse_event(item, "" if single else f"events[{index}]")
            result.errors.extend(errors)
            if event is not None:
                parsed.append((index, event))
        with transaction(self.sessions) as session:
            owners = media_owners(session, {e.media_id for _, e in parsed})
            malformed = bool(result.errors)
            for index, event in parsed:
                if event.media_id not in owners:
                    where = "mediaId" if single else f"events[{index}].mediaId"
                    result.errors.append(FieldError(where, f"unknown media {event.media_id}"))
            if result.errors and strict:
                self._count(rejected=len(items))
                if not malformed:  # well-formed events about media that does not exist
                    unknown = sorted({e.media_id for _, e in parsed if e.media_id not in owners})
                    raise NotFound(f"Unknown media {', '.join(unknown[:5])}")
                raise ValidationFailed("Invalid analytics events", result.errors[:MAX_FIELD_ERRORS])
            rows = [self._row(e, owners[e.media_id]) for _, e in parsed if e.media_id in owners]
            admitted = [row for row in rows if self._admit(client_ip, row.session_id)]
            session.add_all(admitted)
        result.accepted = len(admitted)
        result.dropped = len(rows) - len(admitted)
        del result.errors[MAX_FIELD_ERRORS:]
        self._count(accepted=result.accepted, dropped=result.dropped, rejected=len(items) - len(rows))
        self._maybe_purge()
        if strict and result.dropped and not result.accepted:
            resets = [self.limiter.get_window_stats(self.ip_item, "ip", client_ip).reset_time]
            resets += [
                self.limiter.get_window_stats(self.session_item, "session", sid).reset_time
                for sid in {row.session_id for row in rows}
            ]
            retry_after = max(1, math.ceil(max(resets) - time.time()))
            raise RateLimited("Too many analytics events, please slow down", min(retry_after, 60))
        return result

    @staticmethod
    def _row(event: PlayerEvent, account_id: int) -> AnalyticsEvent:
        return AnalyticsEvent(
            media_public_id=event.media_id,
            account_id=account_id,
            session_id=event.session_id,
            event=event.event,
            current_time=event.current_time,
            duration=event.duration,
            quality=event.quality,
            client_ts=event.client_ts,
            data=event.data,
        )

    def _admit(self, client_ip: str, session_id: str) -> bool:
        if not self.limiter.test(self.session_item, "session", session_id):
            return False
        if not self.limiter.hit(self.ip_item, "ip", client_ip):
            return False
        return self.limiter.hit(self.session_item, "session", session_id)

    def _count(self, **amounts: int) -> None:
        now = time.monotonic()
        with self._lock:
            self.counts.update({k: v for k, v in amounts.items() if v})
            # One line a minute at most, however hard a client floods.
            if amounts.get("dropped") and now >= self._next_drop_log:
                self._next_drop_log = now + 60
                log.warning(
                    "analytics: %d events dropped over the rate limits so far", self.counts["dropped"]
                )

    def _maybe_purge(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now < self._next_purge:
                return
            self._next_purge = now + self.purge_interval
        with transaction(self.sessions) as session:
            purged = purge_old_events(session, older_than=utcnow() - self.retention)
        if purged:
            log.info("analytics: purged %d events older than %s", purged, self.retention)


# ---- aggregates ---------------------------------------------------------------------------------
