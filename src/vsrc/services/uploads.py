"""Turning a received upload into a stored media item, and removing one again.

Order matters for "loses nothing, leaves nothing": the file streams into storage as it arrives (not
yet committed: on S3 an open multipart upload), then validate the form, probe the received copy,
commit the object, then the row; any failure aborts or removes whatever was already written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from vsrc.db.models import Media
from vsrc.db.session import transaction
from vsrc.errors import InsufficientStorage, StorageError, UnsupportedMedia
from vsrc.ids import new_vod_id
from vsrc.media import probed
from vsrc.media.errors import ProbeError, SourceReadError
from vsrc.media.probe import DEFAULT_MAX_SOURCE_PIXELS, SourceInfo, probe
from vsrc.services import media as media_service
from vsrc.services import playback_policy
from vsrc.storage import IncomingObject, Storage

log = logging.getLogger("vsrc.services.uploads")


@dataclass(frozen=True)
class IncomingSource:
    """The original of a new ``vod_…`` item on its way into storage."""

    public_id: str
    stored: IncomingObject


def open_source(storage: Storage, scratch: Path, filename: str | None) -> IncomingSource:
    """Start receiving an upload's file (blocking I/O: call it off the event loop); ``scratch`` is
    where a backend without local files keeps the copy the probe reads."""
    public_id = new_vod_id()
    key = f"media/{public_id}/original{source_suffix(filename)}"
    return IncomingSource(public_id, storage.receive(key, scratch))


class Upload(Protocol):
    """What ingest needs of a received upload (see ``vsrc.api.uploads.ReceivedUpload``)."""

    @property
    def source(self) -> IncomingSource: ...
    @property
    def size(self) -> int: ...
    @property
    def filename(self) -> str | None: ...
    @property
    def fields(self) -> dict[str, str | None]: ...

    def discard(self) -> None: ...


def source_suffix(filename: str | None) -> str:
    """The original's extension kept in storage (``.mp4``), or none when it looks odd."""
    suffix = PurePath(filename or "").suffix.lower()
    return suffix if suffix[1:].isalnum() and len(suffix) <= 6 else ""


def probe_source(path: str | Path, *, max_pixels: int = DEFAULT_MAX_SOURCE_PIXELS) -> SourceInfo:
    """Probe a received file (or a ``Storage.readable`` URL); not a decodable video of an accepted
    format, or a degenerate one (see ``vsrc.media.probe``) → ``UnsupportedMedia`` with the reason."""
    try:
        return probe(path, max_pixels=max_pixels)
    except ProbeError as exc:
        raise UnsupportedMedia(f"Unsupported media: {exc}") from exc
    except SourceReadError as exc:  # the storage, not the file: no verdict on the upload's content
        raise StorageError(f"could not read the upload back from storage: {exc}") from exc


def source_fingerprint(storage: Storage, key: str) -> str:
    """``vsrc.media.probed.fingerprint`` of a stored object: its size and two ranged reads."""
    return probed.fingerprint(storage.size(key), lambda a, b: b"".join(storage.read_range(key, a, b)))


def store_as_media(
    sessions: sessionmaker[Session],
    storage: Storage,
    *,
    path: Path,
    info: SourceInfo,
    account_id: int,
    fields: media_service.MediaFields,
    suffix: str,
    original_filename: str | None = None,
    live_stream_id: int | None = None,
    on_created: Callable[[Session, Media], None] | None = None,
) -> Media:
    """Move the probed file ``path`` into storage as a new ``vod_…`` original and commit its
    ``pending`` row; if the row cannot be written the stored file is removed again.
    ``on_created`` runs in the same transaction (a direct upload records its media id there)."""
    public_id = new_vod_id()
    key = f"media/{public_id}/original{suffix}"
    return record(
        sessions,
        storage,
        public_id=public_id,
        key=key,
        put=lambda: storage.put_file(key, path),
        size=path.stat().st_size,
        info=info,
        account_id=account_id,
        fields=fields,
        original_filename=original_filename,
        live_stream_id=live_stream_id,
        on_created=on_created,
    )


def record(
    sessions: sessionmaker[Session],
    storage: Storage,
    *,
    public_id: str,
    key: str,
    put: Callable[[], None],
    size: int,
    info: SourceInfo,
    account_id: int,
    fields: media_service.MediaFields,
    original_filename: str | None = None,
    live_stream_id: int | None = None,
    on_created: Callable[[Session, Media], None] | None = None,
) -> Media:
    """``put`` the original under ``key``, then commit the row; a failure removes the item's files.
    The row keeps ``info`` with the stored file's fingerprint: the encode job reuses it instead of
    probing again (``vsrc.media.probed``)."""
    signed = fields.playback_policy == playback_policy.SIGNED
    if signed:
        playback_policy.mark_signed(storage, public_id)
    try:
        put()
        source_probe = probed.dump(info, source_fingerprint(storage, key))
        with transaction(sessions) as session:
            media = media_service.create_media(
                session,
                account_id=account_id,
                public_id=public_id,
                fields=fields,
                file_size=size,
                mime_type=info.mime_type,
                source_key=key,
                original_filename=original_filename,
                width=info.display_width,
                height=info.display_height,
                duration=info.duration,
                live_stream_id=live_stream_id,
                source_probe=source_probe,
            )
            if on_created is not None:
                on_created(session, media)
            return media
    except BaseException:
        storage.delete_prefix(f"media/{public_id}")
        if signed:
            playback_policy.unmark_signed(storage, public_id)
        raise


def ingest(
    sessions: sessionmaker[Session],
    storage: Storage,
    upload: Upload,
    *,
    account_id: int,
    max_pixels: int = DEFAULT_MAX_SOURCE_PIXELS,
) -> Media:
    """Validate, probe, commit and record a received upload; on failure nothing of it is kept. A source the
    encoder cannot turn into HLS (too small, over ``max_pixels``, no decodable frame, broken
    timestamps) is ``UnsupportedMedia`` with the reason, before anything is stored."""
    try:
        fields = media_service.validate_fields(
            title=upload.fields.get("title"),
            description=upload.fields.get("description"),
            tags=upload.fields.get("tags"),
            encoding_profile_id=upload.fields.get("encodingProfileId"),
            playback_policy=upload.fields.get("playbackPolicy"),
        )
        with transaction(sessions) as session:
            media_service.check_profile(session, account_id=account_id, profile_id=fields.encoding_profile_id)
        source = upload.source
        info = probe_source(source.stored.copy, max_pixels=max_pixels)
        return record(
            sessions,
            storage,
            public_id=source.public_id,
            key=source.stored.key,
            put=source.stored.commit,
            size=upload.size,
            info=info,
            account_id=account_id,
            fields=fields,
            original_filename=(upload.filename or "")[:255] or None,
        )
    finally:
        upload.discard()


def edit(
    sessions: sessionmaker[Session],
    storage: Storage,
    *,
    account_id: int,
    public_id: str,
    changes: dict[str, Any],
) -> Media:
    """``media_service.update_media`` in its own transaction, moving the signed-playback marker with a
    ``playbackPolicy`` change: written before the commit (→ signed), removed after it (→ public), so a
    failure in between asks for tokens and never serves a signed item openly."""
    policy = changes.get("playbackPolicy")
    with transaction(sessions) as session:
        media = media_service.update_media(
            session, account_id=account_id, public_id=public_id, changes=changes
        )
        if policy == playback_policy.SIGNED:
            playback_policy.mark_signed(storage, public_id)
    if policy == playback_policy.PUBLIC:
        playback_policy.unmark_signed(storage, public_id)
    return media


def remove(sessions: sessionmaker[Session], storage: Storage, *, account_id: int, public_id: str) -> None:
    """Delete the row (tag links cascade) and, once that is committed, every stored file.

    On a full disk the row cannot be deleted (the database must write to delete), so the files go
    first, freeing space, and the row after them (docs/architecture.md#failure-modes-and-limits).
    """
    try:
        with transaction(sessions) as session:
            media_service.delete_media(session, account_id=account_id, public_id=public_id)
    except InsufficientStorage:
        with transaction(sessions) as session:  # 404 for unknown ids before anything is removed
            media_service.get_media(session, account_id=account_id, public_id=public_id)
        log.warning("disk full: deleting the files of %s before its row", public_id)
        media_service.purge_files(storage, public_id)
        with transaction(sessions) as session:
            media_service.delete_media(session, account_id=account_id, public_id=public_id)
        return
    media_service.purge_files(storage, public_id)
