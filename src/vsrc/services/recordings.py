"""Turning a finished live session's recording into a VOD media item (encoded like any upload)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
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
    """Store ``recording`` as a new ``vod_…`` of the live stream's account, linked to it.

    The recording is the only copy of the broadcast: it is deleted once the VOD's original is stored
    and its row committed, or when it is not wanted (the stream is gone, nothing decodable was
    recorded; then None is returned). On any other error (database, storage, full disk) it is kept
    and the error raised, so that a later attempt (the next ingest start) can store it.
    """
    with transaction(sessions) as session:
        stream = session.scalar(select(LiveStream).where(LiveStream.public_id == stream_id))
        if stream is None:
            log.info("recording of a deleted live stream dropped")
            _drop(recording)
            return None
        row_id, account_id, title = stream.id, stream.account_id, stream.title
        policy = stream.playback_policy
    try:
        info = probe(recording)
    except ProbeError as exc:
        log.info("recording of %s not kept: %s", stream_id, exc)
        _drop(recording)
        return None
    fields = media_service.MediaFields(
        title=recording_title(title, utcnow().strftime("%Y-%m-%d %H:%M UTC")),
        description=None,
        tags=[],
        encoding_profile_id=None,
        playback_policy=policy,  # a signed broadcast's recording stays signed
    )
    # Storage consumes what it is given: hand it a second name of the file (or a copy across
    # filesystems), so a failed store or commit still leaves the recording where it was.
    handed = _second_name(recording)
    try:
        media = store_as_media(
            sessions,
            storage,
            path=handed,
            info=info,
            account_id=account_id,
            fields=fields,
            suffix=".flv",
            live_stream_id=row_id,
        )
    except BaseException:
        _drop(handed)
        log.warning("recording of %s kept at %s: it could not be stored yet", stream_id, recording)
        raise
    _drop(recording)
    return media


def _second_name(recording: Path) -> Path:
    other = recording.with_name(f".{recording.name}.storing")
    _drop(other)
    try:
        os.link(recording, other)
    except OSError:
        shutil.copyfile(recording, other)
    return other


def _drop(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
