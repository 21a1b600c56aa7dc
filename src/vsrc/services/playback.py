"""Public playback: resolving a media id to its master playlist, and safe file lookup."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from vsrc.db.models import LiveStream, Media
from vsrc.errors import NotFound
from vsrc.ids import MEDIA_ID_RE

_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}\Z")

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".aac": "audio/aac",
    ".vtt": "text/vtt; charset=utf-8",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}


@dataclass(frozen=True)
class PlaybackItem:
    """What playback needs of a VOD or live row: its owner and playback policy."""

    public_id: str
    account_id: int
    policy: str

    @property
    def signed(self) -> bool:
        return self.policy == "signed"


def find_item(session: Session, *, public_id: str) -> PlaybackItem:
    """The VOD or live item ``public_id`` (one indexed query); ``NotFound`` when unknown."""
    if not MEDIA_ID_RE.match(public_id):
        raise NotFound("Media not found")
    model = LiveStream if public_id.startswith("live_") else Media
    row = session.execute(
        select(model.account_id, model.playback_policy).where(model.public_id == public_id)
    ).first()
    if row is None:
        raise NotFound("Media not found")
    return PlaybackItem(public_id=public_id, account_id=row[0], policy=row[1])


def with_token(url: str, token: str | None) -> str:
    """``url`` with ``?token=`` appended (``&`` when it already has a query); unchanged without one."""
    if not token:
        return url
    return f"{url}{'&' if '?' in url else '?'}token={quote(token, safe='')}"


def master_url(public_url: str, public_id: str, token: str | None = None) -> str:
    return with_token(f"{public_url}/hls/{public_id}/master.m3u8", token)


def resolve_master(session: Session, *, public_id: str, public_url: str) -> str:
    """Absolute URL of the master playlist of a VOD or live item; ``NotFound`` when unknown."""
    find_item(session, public_id=public_id)
    return master_url(public_url, public_id)


def file_key(*, area: str, public_id: str, path: str) -> str:
    """The storage key of the public file ``area/public_id/path``; anything that could name a file
    outside that folder (``..``, hidden names, empty parts, unknown types) is ``NotFound``."""
    parts = path.split("/")
    if (
        not MEDIA_ID_RE.match(public_id)
        or not 1 <= len(parts) <= 3
        or not all(_SEGMENT_RE.match(p) and ".." not in p for p in parts)
        or PurePosixPath(parts[-1]).suffix.lower() not in CONTENT_TYPES
    ):
        raise NotFound("Not found")
    return f"{area}/{public_id}/{path}"


def content_type(key: str) -> str:
    return CONTENT_TYPES.get(PurePosixPath(key).suffix.lower(), "application/octet-stream")
