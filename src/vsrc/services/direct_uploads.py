"""Direct uploads: a one-time tus URL handed to a browser, the bytes it receives, and the media item
the last byte becomes (through the same probe and store as a multipart upload).

Statuses: ``waiting`` (URL handed out) → ``uploading`` (tus creation told us the length) →
``completed`` (a media item exists) | ``failed`` (not a video…); ``waiting``/``uploading`` →
``cancelled`` (DELETE) | ``expired`` (past ``expiresAt``). Every transition out of an active status
is a conditional UPDATE, so a cancel racing the last byte leaves exactly one outcome.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from vsrc.db.models import DirectUpload, Media
from vsrc.db.session import transaction
from vsrc.errors import (
    Conflict,
    FieldError,
    Gone,
    NotFound,
    PayloadTooLarge,
    UnsupportedMedia,
    ValidationFailed,
    VsrcError,
)
from vsrc.ids import UPLOAD_ID_RE, new_upload_id
from vsrc.services import media as media_service
from vsrc.services import uploads
from vsrc.services.tus_local import LocalTusStore
from vsrc.services.tus_s3 import PartsTusStore
from vsrc.services.tus_store import TusStore
from vsrc.storage import Storage
from vsrc.timeutil import utcnow

log = logging.getLogger("vsrc.services.direct_uploads")

ACTIVE = ("waiting", "uploading")
_ORIGIN_RE = re.compile(r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(:\d{1,5})?$")


@dataclass(frozen=True)
class UploadSettings:
    """The validated body of ``POST /api/v1/uploads``."""

    fields: media_service.MediaFields  # playbackPolicy included
    cors_origin: str | None


def validate_request(
    *,
    title: str | None,
    description: str | None,
    tags: str | list[str] | None,
    encoding_profile_id: int | str | None,
    playback_policy: str | None,
    cors_origin: str | None,
) -> UploadSettings:
    """The multipart upload's checks on the media fields (playbackPolicy included), plus the CORS origin."""
    errors: list[FieldError] = []
    try:
        fields = media_service.validate_fields(
            title=title,
            description=description,
            tags=",".join(tags) if isinstance(tags, list) else tags,
            encoding_profile_id=None if encoding_profile_id is None else str(encoding_profile_id),
            playback_policy=playback_policy,
        )
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    if cors_origin is not None and cors_origin != "*" and not _ORIGIN_RE.match(cors_origin):
        errors.append(
            FieldError("corsOrigin", "corsOrigin must be an origin like https://app.example.com, or *")
        )
    if cors_origin is not None and len(cors_origin) > 255:
        errors.append(FieldError("corsOrigin", "corsOrigin must be at most 255 characters"))
    if errors:
        raise ValidationFailed("Validation failed", errors)
    return UploadSettings(fields, cors_origin.rstrip("/") if cors_origin else None)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_upload(
    session: Session, *, account_id: int, request: UploadSettings, ttl_seconds: int
) -> tuple[DirectUpload, str]:
    """A ``waiting`` upload and the plaintext token of its URL (never stored, shown once)."""
    media_service.check_profile(session, account_id=account_id, profile_id=request.fields.encoding_profile_id)
    token = secrets.token_urlsafe(32)
    upload = DirectUpload(
        public_id=new_upload_id(),
        account_id=account_id,
        token_hash=hash_token(token),
        status="waiting",
        title=request.fields.title,
        description=request.fields.description,
        tags=request.fields.tags,
        encoding_profile_id=request.fields.encoding_profile_id,
        playback_policy=request.fields.playback_policy,
        cors_origin=request.cors_origin,
        received_bytes=0,
        expires_at=utcnow() + timedelta(seconds=ttl_seconds),
    )
    session.add(upload)
    session.flush()
    return upload, token


def get_upload(session: Session, *, account_id: int, public_id: str) -> DirectUpload:
    if not UPLOAD_ID_RE.match(public_id):
        raise ValidationFailed.field("uploadId", "uploadId must look like upl_<uuid>")
    upload = session.scalar(
        select(DirectUpload).where(DirectUpload.public_id == public_id, DirectUpload.account_id == account_id)
    )
    if upload is None:
        raise NotFound("Upload not found")
    return upload


def shown_status(upload: DirectUpload, now: datetime | None = None) -> str:
    """``expired`` as soon as the URL is past its time, even before the sweep records it."""
    if upload.status in ACTIVE and upload.expires_at <= (now or utcnow()):
        return "expired"
    return upload.status


def open_store(sessions: sessionmaker[Session], storage: Storage, *, tmp_dir: Path) -> TusStore:
    """Where the bytes of direct uploads wait (``services/tus_store.py``): an S3 multipart upload any
    API machine can continue when the storage has part uploads, else a partial file in ``tmp_dir``."""
    parts = storage.part_uploads()
    if parts is None:
        return LocalTusStore(sessions, storage, tmp_dir=tmp_dir)
    return PartsTusStore(sessions, storage, parts)


def current_offset(store: TusStore, upload: DirectUpload) -> int:
    """Bytes received (what a HEAD answers; live during a long PATCH on local storage)."""
    if upload.status == "uploading":
        return store.offset(upload)
    return upload.received_bytes


def find_by_token(sessions: sessionmaker[Session], token: str) -> DirectUpload | None:
    with transaction(sessions) as session:
        return session.scalar(select(DirectUpload).where(DirectUpload.token_hash == hash_token(token)))


def check_receiving(upload: DirectUpload) -> None:
    """Raise what the tus endpoint answers for an upload that cannot take requests now."""
    status = shown_status(upload)
    if status == "cancelled":
        raise NotFound("Upload not found: it was cancelled")
    if status == "expired":
        raise Gone("This upload URL has expired; create a new upload")
    if status == "failed":
        raise Gone(f"This upload failed: {upload.error_message}")


def start(
    sessions: sessionmaker[Session],
    store: TusStore,
    *,
    upload_id: int,
    length: int,
    filename: str | None,
    max_bytes: int,
) -> DirectUpload:
    """tus creation: record the length and prepare where the bytes go. Repeating it with the same
    length is harmless (a client retrying a lost answer); anything else after the first is refused."""
    if length > max_bytes:
        raise PayloadTooLarge(f"Upload-Length is over the {max_bytes} byte limit")
    with transaction(sessions) as session:
        upload = session.get_one(DirectUpload, upload_id, with_for_update=True)
        check_receiving(upload)
        if upload.status == "uploading" and upload.length == length:
            return upload
        if upload.status != "waiting":
            raise Conflict("This upload URL was already used; create a new upload")
        upload.status, upload.length = "uploading", length
        upload.filename = (filename or "")[:255] or None
        store.begin(upload)
        return upload


def complete(
    sessions: sessionmaker[Session], storage: Storage, store: TusStore, *, upload_id: int, max_pixels: int
) -> Media:
    """The last byte arrived: probe (with the multipart upload's ``max_pixels``), store and record
    exactly like a multipart upload. On failure the upload is ``failed`` with the reason and nothing
    is kept."""
    with transaction(sessions) as session:
        upload = session.get_one(DirectUpload, upload_id)
    fields = media_service.MediaFields(
        title=upload.title,
        description=upload.description,
        tags=list(upload.tags),
        encoding_profile_id=upload.encoding_profile_id,
        playback_policy=upload.playback_policy,
    )

    def mark_completed(session: Session, media: Media) -> None:
        done = session.execute(
            update(DirectUpload)
            .where(DirectUpload.id == upload_id, DirectUpload.status == "uploading")
            .values(status="completed", media_public_id=media.public_id, received_bytes=upload.length)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("The upload was cancelled or expired before it completed")

    try:
        if not upload.length:
            raise UnsupportedMedia("Unsupported media: the file is empty")
        with store.received(upload) as received:
            info = uploads.probe_source(received.source, max_pixels=max_pixels)
            return uploads.record(
                sessions,
                storage,
                public_id=received.public_id,
                key=received.key,
                put=received.put,
                size=upload.length,
                info=info,
                account_id=upload.account_id,
                fields=fields,
                original_filename=upload.filename,
                on_created=mark_completed,
            )
    except VsrcError as exc:
        _fail(sessions, store, upload, exc.message)
        raise
    except BaseException:
        _fail(sessions, store, upload, "Internal error while storing the upload")
        raise


def _fail(sessions: sessionmaker[Session], store: TusStore, upload: DirectUpload, message: str) -> None:
    with transaction(sessions) as session:
        session.execute(
            update(DirectUpload)
            .where(DirectUpload.id == upload.id, DirectUpload.status == "uploading")
            .values(status="failed", error_message=message)
        )
    store.discard(upload)


def cancel(sessions: sessionmaker[Session], store: TusStore, *, upload: DirectUpload) -> DirectUpload:
    """Cancel an active upload and free its bytes (a PATCH still writing loses its bytes)."""
    status = shown_status(upload)
    if status == "expired":
        raise Gone("This upload has expired")
    if status not in ACTIVE:
        raise Conflict(f"Upload is {status}; only waiting or uploading uploads can be cancelled")
    with transaction(sessions) as session:
        done = session.execute(
            update(DirectUpload)
            .where(DirectUpload.id == upload.id, DirectUpload.status.in_(ACTIVE))
            .values(status="cancelled")
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("Upload finished before it could be cancelled")
        cancelled = session.get_one(DirectUpload, upload.id)
    store.discard(cancelled)
    log.info("direct upload %s cancelled", upload.public_id)
    return cancelled


def cancel_for_account(
    sessions: sessionmaker[Session], store: TusStore, *, account_id: int, public_id: str
) -> DirectUpload:
    with transaction(sessions) as session:
        upload = get_upload(session, account_id=account_id, public_id=public_id)
    return cancel(sessions, store, upload=upload)


def sweep_expired(sessions: sessionmaker[Session], store: TusStore, *, limit: int = 500) -> list[str]:
    """Record expired uploads as ``expired`` and free their bytes; one a request is still writing is
    left for the next sweep. Returns the expired upload ids."""
    with transaction(sessions) as session:
        due = list(
            session.scalars(
                select(DirectUpload)
                .where(DirectUpload.status.in_(ACTIVE), DirectUpload.expires_at <= utcnow())
                .limit(limit)
            )
        )
    expired = [upload.public_id for upload in due if store.expire(upload)]
    if expired:
        log.info("expired %d direct uploads", len(expired))
    return expired
