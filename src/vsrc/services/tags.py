"""Tags: per account, matched case-insensitively, default colour ``#6c757d``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vsrc.db.models import Tag
from vsrc.errors import ValidationFailed

MAX_TAG_LENGTH = 255


def parse_tags(raw: str | None) -> list[str]:
    """Split a comma list: trimmed, empty ones dropped, de-duplicated case-insensitively (first wins)."""
    names: list[str] = []
    seen: set[str] = set()
    for part in (raw or "").split(","):
        name = part.strip()
        if not name or name.lower() in seen:
            continue
        if len(name) > MAX_TAG_LENGTH:
            raise ValidationFailed.field("tags", f"each tag must be at most {MAX_TAG_LENGTH} characters")
        seen.add(name.lower())
        names.append(name)
    return names


def get_or_create_tags(session: Session, *, account_id: int, names: list[str]) -> list[Tag]:
    """The account's tags for ``names`` (in order), creating the missing ones."""
    if not names:
        return []
    keys = [n.lower() for n in names]
    existing = {
        t.name_key: t
        for t in session.scalars(select(Tag).where(Tag.account_id == account_id, Tag.name_key.in_(keys)))
    }
    tags: list[Tag] = []
    for name, key in zip(names, keys, strict=True):
        tag = existing.get(key)
        if tag is None:
            tag = Tag(account_id=account_id, name=name, name_key=key)
            session.add(tag)
            existing[key] = tag
        tags.append(tag)
    session.flush()
    return tags
