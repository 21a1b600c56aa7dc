"""VOD media use-cases: create after upload, list, tag search, get, edit, delete.

Creating, editing and deleting write their webhook event in the same transaction (outbox)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from vsrc.db.models import EncodingProfile, LiveStream, Media, Tag, media_tags
from vsrc.errors import FieldError, NotFound, ValidationFailed
from vsrc.ids import VOD_ID_RE
from vsrc.services import playback_policy
from vsrc.services.playback_policy import POLICIES, PUBLIC, marker_key, parse_policy
from vsrc.services.tags import get_or_create_tags, parse_tags
from vsrc.storage import Storage
from vsrc.timeutil import utcnow
from vsrc.webhooks import outbox
from vsrc.webhooks.payloads import live_data, media_data

log = logging.getLogger("vsrc.services.media")

MAX_PAGE = 1_000_000
MAX_ID = 2**31 - 1  # ids are 32-bit on PostgreSQL
ENCODING_STATUSES = ("pending", "processing", "completed", "failed")
MATCH_MODES = ("any", "all")


@dataclass(frozen=True)
class MediaFields:
    """Validated user-supplied fields of an upload."""

    title: str
    description: str | None
    tags: list[str]
    encoding_profile_id: int | None
    playback_policy: str = PUBLIC


@dataclass(frozen=True)
class Page:
    items: list[Media]
    page: int
    limit: int
    total: int

    @property
    def total_pages(self) -> int:
        return (self.total + self.limit - 1) // self.limit


def validate_fields(
    *,
    title: str | None,
    description: str | None,
    tags: str | None,
    encoding_profile_id: str | None,
    playback_policy: str | None = None,
) -> MediaFields:
    """Check the upload form's text fields; raises ``ValidationFailed`` naming every bad field."""
    errors: list[FieldError] = []
    title = (title or "").strip()
    for name, value in (("title", title), ("description", description), ("tags", tags)):
        if value and "\x00" in value:
            errors.append(FieldError(name, f"{name} must not contain NUL characters"))
    if not 1 <= len(title) <= 255:
        errors.append(FieldError("title", "title is required and must be 1 to 255 characters"))
    if description is not None and len(description) > 1000:
        errors.append(FieldError("description", "description must be at most 1000 characters"))
    tag_names: list[str] = []
    if tags is not None and len(tags) > 500:
        errors.append(FieldError("tags", "tags must be at most 500 characters"))
    else:
        try:
            tag_names = parse_tags(tags)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    profile_id: int | None = None
    if encoding_profile_id not in (None, ""):
        try:
            profile_id = int(str(encoding_profile_id))
        except ValueError:
            errors.append(FieldError("encodingProfileId", "encodingProfileId must be an integer"))
        else:
            if not 1 <= profile_id <= MAX_ID:
                errors.append(FieldError("encodingProfileId", f"unknown encoding profile {profile_id}"))
    policy = PUBLIC
    try:
        policy = parse_policy(playback_policy)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    if errors:
        raise ValidationFailed("Validation failed", errors)
    return MediaFields(title, description or None, tag_names, profile_id, policy)


def check_profile(session: Session, *, account_id: int, profile_id: int | None) -> None:
    if profile_id is None:
        return
    profile = session.get(EncodingProfile, profile_id)
    if profile is None or profile.account_id not in (None, account_id):
        # Well-formed but naming nothing: 404, like any unknown resource.
        raise NotFound(f"Unknown encoding profile {profile_id}")


def create_media(
    session: Session,
    *,
    account_id: int,
    public_id: str,
    fields: MediaFields,
    file_size: int,
    mime_type: str,
    source_key: str,
    original_filename: str | None,
    width: int | None,
    height: int | None,
    duration: float | None,
    live_stream_id: int | None = None,
    source_probe: str | None = None,
) -> Media:
    check_profile(session, account_id=account_id, profile_id=fields.encoding_profile_id)
    media = Media(
        public_id=public_id,
        account_id=account_id,
        title=fields.title,
        description=fields.description,
        file_size=file_size,
        mime_type=mime_type,
        source_key=source_key,
        original_filename=original_filename,
        encoding_status="pending",
        upload_status="completed",
        original_width=width,
        original_height=height,
        duration=duration,
        source_probe=source_probe,
        encoding_profile_id=fields.encoding_profile_id,
        live_stream_id=live_stream_id,
        playback_policy=fields.playback_policy,
    )
    media.tags = get_or_create_tags(session, account_id=account_id, names=fields.tags)
    session.add(media)
    session.flush()
    outbox.emit(session, "media.created", account_id=account_id, subject_id=public_id, data=media_data(media))
    if live_stream_id is not None:
        stream = session.get(LiveStream, live_stream_id)
        if stream is not None:
            outbox.emit(
                session,
                "live.recording.created",
                account_id=account_id,
                subject_id=stream.public_id,
                data=live_data(session, stream),
            )
    return media


def check_paging(page: int, limit: int) -> None:
    errors = []
    if not 1 <= page <= MAX_PAGE:
        errors.append(FieldError("page", f"page must be between 1 and {MAX_PAGE}"))
    if not 1 <= limit <= 100:
        errors.append(FieldError("limit", "limit must be between 1 and 100"))
    if errors:
        raise ValidationFailed("Validation failed", errors)


def _paginate(
    session: Session, query: Select[Any], *, page: int, limit: int, total: int | None = None
) -> Page:
    if total is None:
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    ids = list(
        session.scalars(
            query.order_by(Media.created_at.desc(), Media.id.desc()).limit(limit).offset((page - 1) * limit)
        )
    )
    if not ids:
        return Page([], page, limit, total)
    rows = session.scalars(select(Media).where(Media.id.in_(ids)).options(selectinload(Media.tags)))
    by_id = {m.id: m for m in rows}
    return Page([by_id[i] for i in ids if i in by_id], page, limit, total)


def list_media(
    session: Session, *, account_id: int, page: int = 1, limit: int = 20, status: str | None = None
) -> Page:
    check_paging(page, limit)
    _check_status(status)
    query = select(Media.id).where(Media.account_id == account_id)
    if status is not None:
        query = query.where(Media.encoding_status == status)
    return _paginate(session, query, page=page, limit=limit)


def _check_status(status: str | None) -> None:
    if status is not None and status not in ENCODING_STATUSES:
        raise ValidationFailed.field("encodingStatus", f"must be one of {', '.join(ENCODING_STATUSES)}")


def search_media(
    session: Session,
    *,
    account_id: int,
    tags: str | None,
    match: str = "any",
    page: int = 1,
    limit: int = 20,
    status: str | None = None,
) -> Page:
    """Media carrying any (OR) or all (AND) of the comma-listed tags (and of ``status``, if given),
    newest first."""
    check_paging(page, limit)
    _check_status(status)
    if match not in MATCH_MODES:
        raise ValidationFailed.field("match", "must be 'any' or 'all'")
    if tags is not None and len(tags) > 500:
        raise ValidationFailed.field("tags", "tags must be at most 500 characters")
    keys = [n.lower() for n in parse_tags(tags)]
    if not keys:
        raise ValidationFailed.field("tags", "at least one tag is required")
    tag_ids = list(
        session.scalars(select(Tag.id).where(Tag.account_id == account_id, Tag.name_key.in_(keys)))
    )
    if len(tag_ids) < (len(keys) if match == "all" else 1):
        return Page([], page, limit, 0)
    matching = (
        select(media_tags.c.media_id).where(media_tags.c.tag_id.in_(tag_ids)).group_by(media_tags.c.media_id)
    )
    if match == "all":
        matching = matching.having(func.count() == len(tag_ids))
    query = select(Media.id).where(Media.account_id == account_id, Media.id.in_(matching))
    if status is not None:
        query = query.where(Media.encoding_status == status)
        return _paginate(session, query, page=page, limit=limit)
    # Counted on the link table alone: the tags are this account's, so are the media they link to
    # (counting through `media` would walk every media row of the account).
    total = session.scalar(select(func.count()).select_from(matching.subquery())) or 0
    return _paginate(session, query, page=page, limit=limit, total=total)


def check_vod_id(public_id: str) -> None:
    if not VOD_ID_RE.match(public_id):
        raise ValidationFailed.field("mediaId", "mediaId must look like vod_<uuid>")


def get_media(session: Session, *, account_id: int, public_id: str) -> Media:
    check_vod_id(public_id)
    media = session.scalar(
        select(Media)
        .where(Media.public_id == public_id, Media.account_id == account_id)
        .options(selectinload(Media.tags))
    )
    if media is None:
        raise NotFound("Media not found")
    return media


EDITABLE = ("title", "description", "tags", "playbackPolicy")


def validate_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Check a ``PATCH`` body with the upload's rules; returns the normalised values to apply."""
    errors: list[FieldError] = []
    unknown = sorted(set(changes) - set(EDITABLE))
    for name in unknown:
        errors.append(FieldError(name, f"{name} cannot be edited (editable: {', '.join(EDITABLE)})"))
    if not changes:
        errors.append(FieldError("request", f"send at least one of {', '.join(EDITABLE)}"))
    out: dict[str, Any] = {}
    if "title" in changes:
        title = changes["title"]
        if not isinstance(title, str) or not 1 <= len(title.strip()) <= 255 or "\x00" in title:
            errors.append(FieldError("title", "title must be 1 to 255 characters without NUL characters"))
        else:
            out["title"] = title.strip()
    if "description" in changes:
        description = changes["description"]
        if description is not None and (
            not isinstance(description, str) or len(description) > 1000 or "\x00" in description
        ):
            errors.append(FieldError("description", "description must be at most 1000 characters"))
        else:
            out["description"] = description or None
    if "tags" in changes:
        tags = changes["tags"]
        if isinstance(tags, list) and all(isinstance(t, str) and "," not in t for t in tags):
            tags = ",".join(tags)
        if not isinstance(tags, str):
            errors.append(FieldError("tags", "tags must be a comma-separated string or a list of strings"))
        elif len(tags) > 500:
            errors.append(FieldError("tags", "tags must be at most 500 characters"))
        else:
            try:
                out["tags"] = parse_tags(tags)
            except ValidationFailed as exc:
                errors.extend(exc.errors)
    if "playbackPolicy" in changes:
        policy = changes["playbackPolicy"]
        if policy not in POLICIES:
            errors.append(FieldError("playbackPolicy", "playbackPolicy must be 'public' or 'signed'"))
        else:
            out["playbackPolicy"] = policy
    if errors:
        raise ValidationFailed("Validation failed", errors)
    return out


def update_media(session: Session, *, account_id: int, public_id: str, changes: dict[str, Any]) -> Media:
    """Apply a validated ``PATCH``; emits ``media.updated`` when something actually changed."""
    values = validate_changes(changes)
    media = get_media(session, account_id=account_id, public_id=public_id)
    changed = False
    for name in ("title", "description"):
        if name in values and getattr(media, name) != values[name]:
            setattr(media, name, values[name])
            changed = True
    if "tags" in values and {t.name_key for t in media.tags} != {n.lower() for n in values["tags"]}:
        media.tags = get_or_create_tags(session, account_id=account_id, names=values["tags"])
        changed = True
    if "playbackPolicy" in values and media.playback_policy != values["playbackPolicy"]:
        # The caller moves the storage marker (docs/architecture.md#signed-playback).
        media.playback_policy = values["playbackPolicy"]
        changed = True
    if changed:
        media.updated_at = utcnow()
        session.flush()
        session.refresh(media, ["tags"])  # in the order GET lists them
        outbox.emit(
            session, "media.updated", account_id=account_id, subject_id=public_id, data=media_data(media)
        )
    return media


def media_prefixes(public_id: str) -> list[str]:
    """Every storage prefix that may hold files of one media item."""
    # The signed-playback marker goes last: files still being purged stay behind a token.
    return [f"media/{public_id}", f"hls/{public_id}", f"thumbnails/{public_id}", marker_key(public_id)]


def delete_media(session: Session, *, account_id: int, public_id: str) -> None:
    """Delete the row and its tag links; the caller removes files after commit (``purge_files``)."""
    media = get_media(session, account_id=account_id, public_id=public_id)
    outbox.emit(session, "media.deleted", account_id=account_id, subject_id=public_id, data=media_data(media))
    session.delete(media)
    session.flush()


def purge_files(storage: Storage, public_id: str) -> int:
    removed = 0
    for prefix in media_prefixes(public_id):
        removed += storage.delete_prefix(prefix)
    playback_policy.changed(public_id)  # this process's delivery caches stop serving it now
    log.info("deleted %d stored files of %s", removed, public_id)
    return removed
