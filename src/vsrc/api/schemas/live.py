"""Live-stream and embed shapes of the public API."""

from __future__ import annotations

from pydantic import BaseModel, Field

from vsrc.db.models import LiveStream
from vsrc.timeutil import iso_ms


class LiveCreate(BaseModel):
    title: str | None = Field(default=None, examples=["My Live Event"])
    description: str | None = Field(default=None, examples=["Live broadcast from our event"])
    region: str | None = Field(default=None, examples=["us-east"])
    serverId: int | None = Field(default=None, examples=[1])


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
