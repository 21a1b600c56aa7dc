"""Player analytics, read side: views, sessions, watch time, event counts and a per-day series.

Watch time is estimated per player session from the playback position the player reports: events are
ordered by the client's timestamp; a ``play`` opens an interval at its ``currentTime``; every later event
of the session closes it at its own ``currentTime`` (for ``seek``, at ``data.from``, the position left)
and adds the forward distance; ``pause``, ``ended`` and ``error`` stop playback, while ``seek``,
``buffer`` and ``quality_change`` reopen the interval at their position. A delta is capped by the
wall-clock time between the two events (times 2, plus 1 s, for fast playback rates) and by the media
duration, so forged or clock-skewed positions cannot inflate the total. Playback after the last event
a session sent (a closed tab without ``pause``) is not counted. The time is attributed to the UTC day
the closing event was received.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from vsrc.db.models import AnalyticsEvent
from vsrc.errors import ValidationFailed
from vsrc.services import live, media
from vsrc.services.analytics import EVENT_TYPES, MAX_POSITION, finite
from vsrc.timeutil import utcnow

DEFAULT_DAYS = 30
MAX_DAYS = 366
PLAYBACK_RATE_CAP = 2.0


@dataclass(frozen=True)
class DayStats:
    day: date
    views: int
    watch_seconds: float


@dataclass(frozen=True)
class MediaStats:
    media_id: str
    start: date
    end: date
    views: int  # sessions that sent ``play``
    unique_sessions: int  # sessions that sent anything
    watch_seconds: float
    event_counts: dict[str, int]
    days: list[DayStats]


FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)


class WatchPoint(NamedTuple):
    event: str
    position: float
    client_ts: int | None
    day: date
    duration: float | None
    seek_from: float | None


def watch_intervals(points: Iterable[WatchPoint]) -> Iterator[tuple[date, float]]:
    """Seconds watched, as ``(day, seconds)`` pieces, from one session's ordered events (module doc)."""
    playing = False
    anchor: WatchPoint | None = None
    for point in points:
        if playing and anchor is not None:
            end = point.seek_from if point.event == "seek" and point.seek_from is not None else point.position
            seconds = end - anchor.position
            if point.client_ts is not None and anchor.client_ts is not None:
                wall = max(0.0, (point.client_ts - anchor.client_ts) / 1000)
                seconds = min(seconds, wall * PLAYBACK_RATE_CAP + 1)
            if point.duration:
                seconds = min(seconds, point.duration)
            if seconds > 0:
                yield point.day, seconds
        if point.event == "play":
            playing = True
        elif point.event in ("pause", "ended", "error"):
            playing = False
        anchor = point


def _window(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    for name, day in (("from", start), ("to", end)):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise ValidationFailed.field(name, f"must be between {FIRST_DAY} and {LAST_DAY}")
    end = end or (today if start is None else min(today, start + timedelta(days=DEFAULT_DAYS - 1)))
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValidationFailed.field("from", "must not be after 'to'")
    if (end - start).days >= MAX_DAYS:
        raise ValidationFailed.field("from", f"the window is limited to {MAX_DAYS} days")
    return start, end


def _day(value: Any) -> date:
    # func.date() gives a date on PostgreSQL and a 'YYYY-MM-DD' string on SQLite.
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _seek_from(data: Any) -> float | None:
    value = data.get("from") if isinstance(data, dict) else None
    return finite(value, 0, MAX_POSITION)


def media_analytics(
    session: Session, *, account_id: int, media_id: str, start: date | None = None, end: date | None = None
) -> MediaStats:
    """Views, sessions, watch time, event counts and a per-day series for one of the account's media
    over the UTC days ``start..end`` (default: the last 30 days). Unknown or foreign media: ``NotFound``.
    """
    if media_id.startswith("live_"):
        live.get_live(session, account_id=account_id, public_id=media_id)
    else:
        media.get_media(session, account_id=account_id, public_id=media_id)
    start, end = _window(start, end, utcnow().date())
    low = datetime.combine(start, datetime.min.time())
    high = datetime.combine(end + timedelta(days=1), datetime.min.time())
    ev = AnalyticsEvent
    scope = (
        ev.media_public_id == media_id,
        ev.account_id == account_id,
        ev.created_at >= low,
        ev.created_at < high,
    )
    counts = dict.fromkeys(EVENT_TYPES, 0)
    counts.update(
        {
            k: int(n)
            for k, n in session.execute(select(ev.event, func.count()).where(*scope).group_by(ev.event))
        }
    )
    unique = session.scalar(select(func.count(distinct(ev.session_id))).where(*scope)) or 0
    views = session.scalar(select(func.count(distinct(ev.session_id))).where(*scope, ev.event == "play")) or 0
    day_col = func.date(ev.created_at)
    daily_views = {
        _day(day): int(n)
        for day, n in session.execute(
            select(day_col, func.count(distinct(ev.session_id)))
            .where(*scope, ev.event == "play")
            .group_by(day_col)
        )
    }
    watch: dict[date, float] = defaultdict(float)
    rows = session.execute(
        select(ev.session_id, ev.event, ev.current_time, ev.client_ts, ev.created_at, ev.duration, ev.data)
        .where(*scope)
        .order_by(ev.session_id, func.coalesce(ev.client_ts, 0), ev.id)
        .execution_options(yield_per=1000)
    )
    for _sid, session_rows in groupby(rows, key=itemgetter(0)):
        points = (
            WatchPoint(kind, position, stamp, created.date(), duration, _seek_from(data))
            for _, kind, position, stamp, created, duration, data in session_rows
        )
        for day, seconds in watch_intervals(points):
            watch[day] += seconds
    days = [
        DayStats(day, daily_views.get(day, 0), round(watch[day], 3))
        for day in (start + timedelta(days=n) for n in range((end - start).days + 1))
    ]
    return MediaStats(
        media_id=media_id,
        start=start,
        end=end,
        views=int(views),
        unique_sessions=int(unique),
        watch_seconds=round(sum(watch.values()), 3),
        event_counts=counts,
        days=days,
    )
