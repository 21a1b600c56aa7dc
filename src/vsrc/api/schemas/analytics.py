"""Analytics shapes: the ingest answer and the per-media aggregates."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vsrc.services.analytics import (
    EVENT_TYPES,
    MAX_BATCH_EVENTS,
    MAX_ERROR_MESSAGE,
    MAX_POSITION,
    MEDIA_RE,
    NAME_KEYS,
    QUALITY_RE,
    SESSION_RE,
    TS_RANGE,
    IngestResult,
)
from vsrc.services.analytics_stats import MediaStats


def _seconds(nullable: bool) -> dict[str, Any]:
    number = {"type": "number", "minimum": 0, "maximum": MAX_POSITION}
    return {"anyOf": [number, {"type": "null"}]} if nullable else number


def _event_schema(kind: str) -> dict[str, Any]:
    """One event named ``kind``: in ``event`` (ours, with ``type`` alike) or ``eventType`` (the
    original VSRCPlayer's); every name it carries must agree, so each event type is its own branch."""
    low, high = TS_RANGE
    return {
        "type": "object",
        "required": ["sessionId", "mediaId"],
        "anyOf": [{"required": [key]} for key in NAME_KEYS],
        "properties": {
            **{key: {"const": kind} for key in NAME_KEYS},
            "sessionId": {"type": "string", "pattern": SESSION_RE.pattern},
            "mediaId": {"type": "string", "pattern": MEDIA_RE.pattern, "description": "an existing item"},
            "playerType": {"anyOf": [{"enum": ["vod", "live"]}, {"type": "null"}]},
            "currentTime": _seconds(nullable=False),
            "duration": _seconds(nullable=True),
            "bufferDuration": _seconds(nullable=True),
            "quality": {"anyOf": [{"type": "string", "pattern": QUALITY_RE.pattern}, {"type": "null"}]},
            "timestamp": {
                "anyOf": [{"type": "number", "minimum": low, "maximum": high}, {"type": "null"}],
                "description": "client clock, epoch milliseconds",
            },
            "errorMessage": {
                "anyOf": [{"type": "string", "maxLength": MAX_ERROR_MESSAGE}, {"type": "null"}],
            },
            "data": {"anyOf": [{"type": "object"}, {"type": "null"}]},
            "metadata": {"anyOf": [{"type": "object"}, {"type": "null"}]},
        },
    }


PLAYER_EVENT: dict[str, Any] = {
    "anyOf": [_event_schema(kind) for kind in EVENT_TYPES],
    "description": "a VSRCPlayer event; data/metadata (with errorMessage and bufferDuration) at most "
    "2 KiB as JSON",
}
EVENT_BATCH: dict[str, Any] = {
    "type": "object",
    "required": ["events"],
    "properties": {
        "events": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH_EVENTS, "items": PLAYER_EVENT}
    },
}


class FieldErrorOut(BaseModel):
    field: str
    message: str


class Ingested(BaseModel):
    accepted: int = Field(description="events stored")
    dropped: int = Field(description="events over the per-IP or per-session rate limit, not stored")


class IngestResponse(BaseModel):
    success: bool = True
    data: Ingested


class WsReply(BaseModel):
    """Sent back on ``/ws/analytics`` after each frame (the VSRCPlayer ignores it)."""

    success: bool
    accepted: int
    dropped: int
    message: str | None = None
    errors: list[FieldErrorOut] = []


class DayPoint(BaseModel):
    date: str = Field(examples=["2024-01-15"])
    views: int
    watchTimeSeconds: float


class MediaAnalytics(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    mediaId: str
    from_: str = Field(alias="from", description="first UTC day of the window")
    to: str = Field(description="last UTC day of the window (inclusive)")
    views: int = Field(description="player sessions that started playback")
    uniqueSessions: int = Field(description="player sessions that sent any event")
    totalWatchTimeSeconds: float
    eventCounts: dict[str, int]
    series: list[DayPoint]


class MediaAnalyticsResponse(BaseModel):
    success: bool = True
    data: MediaAnalytics


def ingested(result: IngestResult) -> IngestResponse:
    return IngestResponse(data=Ingested(accepted=result.accepted, dropped=result.dropped))


def ws_reply(result: IngestResult, message: str | None = None) -> str:
    errors = [FieldErrorOut(field=e.field, message=e.message) for e in result.errors]
    ok = not errors and not result.dropped and message is None
    reply = WsReply(
        success=ok, accepted=result.accepted, dropped=result.dropped, message=message, errors=errors
    )
    return reply.model_dump_json()


def media_analytics(stats: MediaStats) -> MediaAnalyticsResponse:
    return MediaAnalyticsResponse(
        data=MediaAnalytics(
            mediaId=stats.media_id,
            from_=stats.start.isoformat(),
            to=stats.end.isoformat(),
            views=stats.views,
            uniqueSessions=stats.unique_sessions,
            totalWatchTimeSeconds=stats.watch_seconds,
            eventCounts=stats.event_counts,
            series=[
                DayPoint(date=d.day.isoformat(), views=d.views, watchTimeSeconds=d.watch_seconds)
                for d in stats.days
            ],
        )
    )
