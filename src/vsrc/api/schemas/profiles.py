"""Encoding-profile shapes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from vsrc.db.models import EncodingProfile
from vsrc.media.ladder import X264Preset
from vsrc.services.profiles import (
    MAX_AUDIO_BITRATE,
    MAX_HEIGHT,
    MAX_RUNGS,
    MAX_VIDEO_BITRATE,
    MIN_AUDIO_BITRATE,
    MIN_HEIGHT,
    MIN_VIDEO_BITRATE,
)
from vsrc.timeutil import iso_ms

# The document states the service's rules (services/profiles.py validates them again, and also
# that rung heights differ). The presets are the ladder's own list.


class RungIn(BaseModel):
    height: int = Field(examples=[720], ge=MIN_HEIGHT, le=MAX_HEIGHT, multiple_of=2)
    videoBitrate: int = Field(
        examples=[2_800_000], ge=MIN_VIDEO_BITRATE, le=MAX_VIDEO_BITRATE, description="bits per second"
    )
    name: str | None = Field(default=None, examples=["720p"], pattern=r"^[A-Za-z0-9_-]{1,32}$")


class ProfileCreate(BaseModel):
    name: str = Field(
        examples=["small ladder"], min_length=1, max_length=255, pattern=r"^[^\x00]*\S[^\x00]*$"
    )
    rungs: list[RungIn] = Field(min_length=1, max_length=MAX_RUNGS)
    audioBitrate: int = Field(default=128_000, ge=MIN_AUDIO_BITRATE, le=MAX_AUDIO_BITRATE)
    preset: X264Preset = Field(default="veryfast", examples=["veryfast"])
    segmentSeconds: Literal[2, 4, 6, 8, 10] = 4


class RungOut(BaseModel):
    name: str
    height: int
    videoBitrate: int
    maxrate: int
    bufsize: int


class ProfileOut(BaseModel):
    id: int
    name: str
    isDefault: bool
    builtIn: bool
    rungs: list[RungOut]
    audioBitrate: int
    preset: str
    segmentSeconds: int
    createdAt: str


class ProfileResponse(BaseModel):
    success: bool = True
    data: ProfileOut


class ProfileListResponse(BaseModel):
    success: bool = True
    data: list[ProfileOut]


def profile_out(row: EncodingProfile) -> ProfileOut:
    return ProfileOut(
        id=row.id,
        name=row.name,
        isDefault=row.is_default,
        builtIn=row.account_id is None,
        rungs=[
            RungOut(
                name=r["name"],
                height=r["height"],
                videoBitrate=r["video_bitrate"],
                maxrate=r["maxrate"],
                bufsize=r["bufsize"],
            )
            for r in row.rungs
        ],
        audioBitrate=row.audio_bitrate,
        preset=row.preset,
        segmentSeconds=row.segment_seconds,
        createdAt=iso_ms(row.created_at),
    )
