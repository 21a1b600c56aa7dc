"""Encoding profiles: built-in ones (no account) plus each account's own."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from vsrc.db.models import EncodingProfile
from vsrc.errors import FieldError, ValidationFailed
from vsrc.media.ladder import Profile, Rung

MIN_HEIGHT, MAX_HEIGHT = 96, 4320
MIN_VIDEO_BITRATE, MAX_VIDEO_BITRATE = 50_000, 100_000_000
MIN_AUDIO_BITRATE, MAX_AUDIO_BITRATE = 32_000, 512_000
SEGMENT_CHOICES = (2, 4, 6, 8, 10)
MAX_RUNGS = 10


@dataclass(frozen=True)
class RungInput:
    height: int
    video_bitrate: int
    name: str | None = None


def to_profile(row: EncodingProfile) -> Profile:
    """The pure ``media`` profile of a stored row."""
    return Profile(
        rungs=tuple(Rung.from_dict(r) for r in row.rungs),
        audio_bitrate=row.audio_bitrate,
        preset=row.preset,
        segment_seconds=row.segment_seconds,
    )


def list_profiles(session: Session, *, account_id: int) -> list[EncodingProfile]:
    query = (
        select(EncodingProfile)
        .where(or_(EncodingProfile.account_id.is_(None), EncodingProfile.account_id == account_id))
        .order_by(EncodingProfile.id)
    )
    return list(session.scalars(query))


def default_profile(session: Session) -> EncodingProfile:
    row = session.scalar(select(EncodingProfile).where(EncodingProfile.is_default.is_(True)).limit(1))
    if row is None:
        raise LookupError("no default encoding profile: run 'vsrc migrate'")
    return row


def _check(name: str, rungs: list[RungInput], audio_bitrate: int, segment_seconds: int) -> list[FieldError]:
    errors = []
    if not 1 <= len(name.strip()) <= 255 or "\x00" in name:
        errors.append(FieldError("name", "name must be 1 to 255 characters"))
    if not 1 <= len(rungs) <= MAX_RUNGS:
        errors.append(FieldError("rungs", f"give 1 to {MAX_RUNGS} rungs"))
    for i, rung in enumerate(rungs):
        if not MIN_HEIGHT <= rung.height <= MAX_HEIGHT or rung.height % 2:
            errors.append(
                FieldError(f"rungs.{i}.height", f"an even height from {MIN_HEIGHT} to {MAX_HEIGHT}")
            )
        if not MIN_VIDEO_BITRATE <= rung.video_bitrate <= MAX_VIDEO_BITRATE:
            errors.append(
                FieldError(
                    f"rungs.{i}.videoBitrate",
                    f"bits/s from {MIN_VIDEO_BITRATE} to {MAX_VIDEO_BITRATE}",
                )
            )
    if len({r.height for r in rungs}) != len(rungs):
        errors.append(FieldError("rungs", "rung heights must be unique"))
    if not MIN_AUDIO_BITRATE <= audio_bitrate <= MAX_AUDIO_BITRATE:
        errors.append(FieldError("audioBitrate", f"bits/s from {MIN_AUDIO_BITRATE} to {MAX_AUDIO_BITRATE}"))
    if segment_seconds not in SEGMENT_CHOICES:
        errors.append(FieldError("segmentSeconds", f"one of {', '.join(map(str, SEGMENT_CHOICES))}"))
    return errors


def create_profile(
    session: Session,
    *,
    account_id: int,
    name: str,
    rungs: list[RungInput],
    audio_bitrate: int = 128_000,
    preset: str = "veryfast",
    segment_seconds: int = 4,
) -> EncodingProfile:
    """Validate and store an account's profile (rungs are sorted from the largest)."""
    errors = _check(name, rungs, audio_bitrate, segment_seconds)
    if errors:
        raise ValidationFailed("Validation failed", errors)
    try:
        profile = Profile(
            rungs=tuple(Rung(r.name or f"{r.height}p", r.height, r.video_bitrate) for r in rungs),
            audio_bitrate=audio_bitrate,
            preset=preset,
            segment_seconds=segment_seconds,
        )
    except ValueError as exc:
        field = "preset" if "preset" in str(exc) else "rungs"
        raise ValidationFailed.field(field, str(exc)) from exc
    row = EncodingProfile(
        account_id=account_id,
        name=name.strip(),
        is_default=False,
        rungs=[r.to_dict() for r in profile.rungs],
        audio_bitrate=audio_bitrate,
        preset=preset,
        segment_seconds=segment_seconds,
    )
    session.add(row)
    session.flush()
    return row
