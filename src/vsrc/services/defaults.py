"""Rows every installation needs: the default encoding profile and the default RTMP server."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vsrc.db.models import EncodingProfile, RtmpServer

# DESIGN.md §6: heights and video bitrates (bits/s) of the default ladder.
DEFAULT_LADDER: list[dict[str, int | str]] = [
    {"name": f"{h}p", "height": h, "videoBitrate": b}
    for h, b in [
        (2160, 12_000_000),
        (1440, 8_000_000),
        (1080, 5_000_000),
        (720, 2_800_000),
        (480, 1_400_000),
        (360, 800_000),
        (240, 400_000),
    ]
]


def ensure_defaults(session: Session, *, rtmp_public_url: str, region: str = "default") -> None:
    """Seed the default profile and RTMP server if missing (idempotent)."""
    has_default = session.scalar(select(EncodingProfile.id).where(EncodingProfile.is_default.is_(True)))
    if has_default is None:
        session.add(
            EncodingProfile(
                account_id=None,
                name="default",
                is_default=True,
                rungs=DEFAULT_LADDER,
                audio_bitrate=128_000,
                preset="veryfast",
                segment_seconds=4,
            )
        )
    if session.scalar(select(RtmpServer.id).limit(1)) is None:
        session.add(RtmpServer(name="default", region=region, rtmp_url=rtmp_public_url, status="online"))
    session.flush()
