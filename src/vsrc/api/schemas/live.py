"""Live-stream and embed shapes of the public API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from vsrc.db.models import LiveStream, Media, RtmpServer
from vsrc.services.live import is_online
from vsrc.timeutil import iso_ms, utcnow

NO_NUL = r"^[^\x00]*$"
NOT_BLANK = r"^[^\x00]*\S[^\x00]*$"


class LiveCreate(BaseModel):
    # The document states the rules services/live.py enforces (validate_live_fields).
    title: str = Field(examples=["My Live Event"], min_length=1, max_length=255, pattern=NOT_BLANK)
    description: str | None = Field(
        default=None, examples=["Live broadcast from our event"], max_length=1000, pattern=NO_NUL
    )
    region: str | None = Field(
        default=None, examples=["us-east"], min_length=1, max_length=64, pattern=NO_NUL
    )
    serverId: int | None = Field(default=None, ge=1, le=2**31 - 1, examples=[1])
    playbackPolicy: Literal["public", "signed"] | None = Field(
        default=None, description="'signed': playback needs a token (default 'public')", examples=["public"]
    )


class LiveCreated(BaseModel):
    streamKey: str
    mediaId: str
    title: str
    description: str | None
    rtmpUrl: str
    streamUrl: str
    expiresIn: str
    expiresAt: str


class LiveCreateResponse(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "success": True,
                    "message": "Live stream created successfully",
                    "data": {
                        "streamKey": "1_abc123def456abc123def456abc123de",
                        "mediaId": "live_a1b2c3d4-e5f6-7890-abcd-ef1234567890",
                        "title": "My Live Event",
                        "description": "Live broadcast from our event",
                        "rtmpUrl": "rtmp://stream.vsrc.video/live",
                        "streamUrl": "rtmp://stream.vsrc.video/live/1_abc123def456abc123def456abc123de",
                        "expiresIn": "24h",
                        "expiresAt": "2024-01-16T10:30:00.000Z",
                    },
                }
            ]
        }
    }
    success: bool = True
    message: str = "Live stream created successfully"
    data: LiveCreated


class Embed(BaseModel):
    mediaId: str
    title: str
    description: str | None
    playerType: str
    encodingStatus: str | None
    embedCode: str


class EmbedResponse(BaseModel):
    success: bool = True
    data: Embed


def live_created(stream: LiveStream) -> LiveCreated:
    rtmp_url = stream.server.rtmp_url.rstrip("/")
    return LiveCreated(
        streamKey=stream.stream_key,
        mediaId=stream.public_id,
        title=stream.title,
        description=stream.description,
        rtmpUrl=rtmp_url,
        streamUrl=f"{rtmp_url}/{stream.stream_key}",
        expiresIn="24h",
        expiresAt=iso_ms(stream.expires_at),
    )


class RecordingOut(BaseModel):
    mediaId: str
    title: str
    encodingStatus: str
    duration: float | None
    createdAt: str


class LiveOut(BaseModel):
    mediaId: str
    title: str
    description: str | None
    status: str
    streamKey: str | None  # write keys only: a stream key lets anyone publish as this stream
    rtmpUrl: str
    streamUrl: str | None
    expiresAt: str
    expired: bool
    serverId: int
    region: str
    sessionStartedAt: str | None
    playbackUrl: str
    playbackPolicy: str
    createdAt: str
    updatedAt: str
    recordings: list[RecordingOut] | None = None


class LivePagination(BaseModel):
    page: int
    limit: int
    total: int
    totalPages: int


class LiveList(BaseModel):
    live: list[LiveOut]
    pagination: LivePagination


class LiveListResponse(BaseModel):
    success: bool = True
    data: LiveList


class LiveResponse(BaseModel):
    success: bool = True
    data: LiveOut


class LiveDeleteResponse(BaseModel):
    success: bool = True
    message: str = "Live stream deleted successfully"
    data: dict[str, str]


class RtmpServerOut(BaseModel):
    id: int
    name: str
    region: str
    rtmpUrl: str
    status: str
    lastHeartbeatAt: str | None
    activeStreams: int


class RtmpServerListResponse(BaseModel):
    success: bool = True
    data: list[RtmpServerOut]


def live_out(
    stream: LiveStream, public_url: str, recordings: list[Media] | None = None, *, with_key: bool = False
) -> LiveOut:
    created = live_created(stream)
    return LiveOut(
        mediaId=stream.public_id,
        title=stream.title,
        description=stream.description,
        status=stream.status,
        streamKey=stream.stream_key if with_key else None,
        rtmpUrl=created.rtmpUrl,
        streamUrl=created.streamUrl if with_key else None,
        expiresAt=created.expiresAt,
        expired=stream.expires_at <= utcnow(),
        serverId=stream.server_id,
        region=stream.server.region,
        sessionStartedAt=iso_ms(stream.session_started_at)
        if stream.status == "live" and stream.session_started_at
        else None,
        playbackUrl=f"{public_url}/hls/{stream.public_id}/master.m3u8",
        playbackPolicy=stream.playback_policy,
        createdAt=iso_ms(stream.created_at),
        updatedAt=iso_ms(stream.updated_at),
        recordings=None
        if recordings is None
        else [
            RecordingOut(
                mediaId=m.public_id,
                title=m.title,
                encodingStatus=m.encoding_status,
                duration=m.duration,
                createdAt=iso_ms(m.created_at),
            )
            for m in recordings
        ],
    )


def server_out(server: RtmpServer, active: int) -> RtmpServerOut:
    return RtmpServerOut(
        id=server.id,
        name=server.name,
        region=server.region,
        rtmpUrl=server.rtmp_url,
        status="online" if is_online(server) else "offline",
        lastHeartbeatAt=iso_ms(server.last_heartbeat_at) if server.last_heartbeat_at else None,
        activeStreams=active,
    )
