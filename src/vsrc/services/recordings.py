"""Turning a finished live session's recording into a VOD media item (encoded like any upload)."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vsrc.db.models import LiveStream, Media
from vsrc.db.session import transaction
from vsrc.ids import new_vod_id
from vsrc.media.errors import ProbeError
from vsrc.media.probe import probe
from vsrc.services import media as media_service
from vsrc.storage import Storage
from vsrc.timeutil import utcnow

log = logging.getLogger("vsrc.services.recordings")

TITLE_SEPARATOR = " — recording "


def recording_title(live_title: str, when: str) -> str:
    suffix = f"{TITLE_SEPARATOR}{when}"
    return live_title[: 255 - len(suffix)] + suffix


def record_to_vod(
    sessions: sessionmaker[Session], storage: Storage, *, stream_key: str, recording: Path
) -> Media | None:
    """Store ``recording`` (consumed) as a new ``vod_…`` of the live stream's account, linked to it.

    Returns None, and deletes the file, when the stream is gone or nothing decodable was recorded.
    """
    stored_key: str | None = None
    try:
        with transaction(sessions) as session:
            stream = session.scalar(select(LiveStream).where(LiveStream.stream_key == stream_key))
            if stream is None:
                log.info("recording of a deleted live stream dropped")
                return None
            stream_id, account_id, title = stream.id, stream.account_id, stream.title
        try:
            info = probe(recording)
        except ProbeError as exc:
            log.info("recording of %s not kept: %s", stream_key[:6], exc)
            return None
        public_id = new_vod_id()
        stored_key = f"media/{public_id}/original.flv"
        size = recording.stat().st_size
        storage.put_file(stored_key, recording)
        fields = media_service.MediaFields(
            title=recording_title(title, utcnow().strftime("%Y-%m-%d %H:%M UTC")),
            description=None,
            tags=[],
            encoding_profile_id=None,
        )
        with transaction(sessions) as session:
            return media_service.create_media(
                session,
                account_id=account_id,
                public_id=public_id,
                fields=fields,
                file_size=size,
                mime_type="video/x-flv",
                source_key=stored_key,
                original_filename=None,
                width=info.display_width,
                height=info.display_height,
                duration=info.duration,
                live_stream_id=stream_id,
            )
    except BaseException:
        if stored_key is not None:
            storage.delete_prefix(stored_key.rsplit("/", 1)[0])
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            recording.unlink()
