"""Public playback: resolving a media id to its master playlist, and safe file lookup."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from vsrc.db.models import LiveStream, Media
from vsrc.errors import NotFound
from vsrc.ids import MEDIA_ID_RE
from vsrc.storage import Storage

_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")

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


def resolve_master(session: Session, *, public_id: str, public_url: str) -> str:
    """Absolute URL of the master playlist of a VOD or live item; ``NotFound`` when unknown."""
    if not MEDIA_ID_RE.match(public_id):
        raise NotFound("Media not found")
    model = LiveStream if public_id.startswith("live_") else Media
    if session.scalar(select(model.id).where(model.public_id == public_id)) is None:
        raise NotFound("Media not found")
    return f"{public_url}/hls/{public_id}/master.m3u8"


def public_file(storage: Storage, *, area: str, public_id: str, path: str) -> Path:
    """The stored file ``area/public_id/path``; anything that could escape that folder is ``NotFound``."""
    parts = path.split("/")
    if (
        not MEDIA_ID_RE.match(public_id)
        or not 1 <= len(parts) <= 3
        or not all(_SEGMENT_RE.match(p) and ".." not in p for p in parts)
        or Path(parts[-1]).suffix.lower() not in CONTENT_TYPES
    ):
        raise NotFound("Not found")
    folder = storage.local_path(f"{area}/{public_id}")
    file = storage.local_path(f"{area}/{public_id}/{path}")
    if folder not in file.parents or not file.is_file():
        raise NotFound("Not found")
    return file


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
