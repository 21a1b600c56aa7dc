"""Encoding-profile shapes."""

from __future__ import annotations

from pydantic import BaseModel, Field

from vsrc.db.models import EncodingProfile
from vsrc.timeutil import iso_ms


class RungIn(BaseModel):
    height: int = Field(examples=[720])
    videoBitrate: int = Field(examples=[2_800_000], description="bits per second")
    name: str | None = Field(default=None, examples=["720p"])


class ProfileCreate(BaseModel):
    name: str = Field(examples=["small ladder"])
    rungs: list[RungIn]
    audioBitrate: int = 128_000
    preset: str = Field(default="veryfast", examples=["veryfast"])
    segmentSeconds: int = 4


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
