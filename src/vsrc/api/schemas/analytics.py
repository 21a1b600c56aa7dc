"""Analytics shapes: the ingest answer and the per-media aggregates."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from vsrc.services.analytics import IngestResult
from vsrc.services.analytics_stats import MediaStats


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
