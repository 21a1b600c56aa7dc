"""Turning a finished live session's recording into a VOD media item (encoded like any upload)."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vsrc.db.models import LiveStream, Media
from vsrc.db.session import transaction
from vsrc.media.errors import ProbeError
from vsrc.media.probe import probe
from vsrc.services import media as media_service
from vsrc.services.uploads import store_as_media
from vsrc.storage import Storage
from vsrc.timeutil import utcnow

log = logging.getLogger("vsrc.services.recordings")

TITLE_SEPARATOR = " — recording "


def recording_title(live_title: str, when: str) -> str:
    suffix = f"{TITLE_SEPARATOR}{when}"
    return live_title[: 255 - len(suffix)] + suffix


def record_to_vod(
    sessions: sessionmaker[Session], storage: Storage, *, stream_id: str, recording: Path
) -> Media | None:
    """Store ``recording`` (consumed) as a new ``vod_…`` of the live stream's account, linked to it.

    Returns None, and deletes the file, when the stream is gone or nothing decodable was recorded.
    """
    try:
        with transaction(sessions) as session:
            stream = session.scalar(select(LiveStream).where(LiveStream.public_id == stream_id))
            if stream is None:
                log.info("recording of a deleted live stream dropped")
                return None
            row_id, account_id, title = stream.id, stream.account_id, stream.title
        try:
            info = probe(recording)
        except ProbeError as exc:
            log.info("recording of %s not kept: %s", stream_id, exc)
            return None
        fields = media_service.MediaFields(
            title=recording_title(title, utcnow().strftime("%Y-%m-%d %H:%M UTC")),
            description=None,
            tags=[],
            encoding_profile_id=None,
        )
        return store_as_media(
            sessions,
            storage,
            path=recording,
            info=info,
            account_id=account_id,
            fields=fields,
            suffix=".flv",
            live_stream_id=row_id,
        )
    finally:
        with contextlib.suppress(FileNotFoundError):
            recording.unlink()
