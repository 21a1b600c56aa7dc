"""Tags: per account, matched case-insensitively, default colour ``#6c757d``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from vsrc.db.models import DEFAULT_TAG_COLOR, Tag
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
        if "\x00" in name:
            raise ValidationFailed.field("tags", "tags must not contain NUL characters")
        if len(name) > MAX_TAG_LENGTH:
            raise ValidationFailed.field("tags", f"each tag must be at most {MAX_TAG_LENGTH} characters")
        seen.add(name.lower())
        names.append(name)
    return names


def get_or_create_tags(session: Session, *, account_id: int, names: list[str]) -> list[Tag]:
    """The account's tags for ``names`` (in order), creating the missing ones.

    ``INSERT … ON CONFLICT DO NOTHING``: two uploads creating the same new tag at once both succeed.
    """
    if not names:
        return []
    keys = [n.lower() for n in names]
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(Tag)
        .values(
            [
                {"account_id": account_id, "name": n, "name_key": k, "color": DEFAULT_TAG_COLOR}
                for n, k in zip(names, keys, strict=True)
            ]
        )
        .on_conflict_do_nothing(index_elements=["account_id", "name_key"])
    )
    by_key = {
        t.name_key: t
        for t in session.scalars(select(Tag).where(Tag.account_id == account_id, Tag.name_key.in_(keys)))
    }
    return [by_key[k] for k in keys]
