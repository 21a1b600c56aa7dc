"""Rows every installation needs: the default encoding profile and the default RTMP server."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vsrc.db.models import EncodingProfile, RtmpServer
from vsrc.media.ladder import DEFAULT_PROFILE

DEFAULT_SERVER = "default"


def ensure_defaults(session: Session, *, rtmp_public_url: str, region: str = "default") -> None:
    """Seed the default encoding profile and RTMP server if missing (idempotent)."""
    has_default = session.scalar(select(EncodingProfile.id).where(EncodingProfile.is_default.is_(True)))
    if has_default is None:
        session.add(
            EncodingProfile(
                account_id=None,
                name="default",
                is_default=True,
                rungs=[r.to_dict() for r in DEFAULT_PROFILE.rungs],
                audio_bitrate=DEFAULT_PROFILE.audio_bitrate,
                preset=DEFAULT_PROFILE.preset,
                segment_seconds=int(DEFAULT_PROFILE.segment_seconds),
            )
        )
    default = session.scalar(select(RtmpServer).where(RtmpServer.name == DEFAULT_SERVER).limit(1))
    if default is None and session.scalar(select(RtmpServer.id).limit(1)) is None:
        session.add(RtmpServer(name=DEFAULT_SERVER, region=region, rtmp_url=rtmp_public_url, status="online"))
    elif default is not None and (default.rtmp_url, default.region) != (rtmp_public_url, region):
        # The default server follows VSRC_RTMP_PUBLIC_URL / VSRC_RTMP_REGION (changed since seeding).
        default.rtmp_url, default.region = rtmp_public_url, region
    session.flush()
