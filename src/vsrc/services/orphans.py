"""Removing stored files whose item has no row: what a process killed between deleting a row and
purging its files (or between storing an upload and committing its row) leaves in storage.

An item is the name directly under one of the per-item folders (``media/``, ``hls/``,
``thumbnails/``, ``signed/``: ``vsrc.services.media.media_prefixes``), a ``vod_…`` of ``media`` or a
``live_…`` of ``live_streams``, or the item an active direct upload is writing
(``uploads.source_key``). An upload is stored before its row is committed, so an item is only an
orphan once nothing under any of its folders was written for ``min_age`` seconds (a day by
default): an item being created is never taken for one (docs/architecture.md, "Storage").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vsrc.db.models import DirectUpload, LiveStream, Media
from vsrc.db.session import transaction
from vsrc.services.direct_uploads import ACTIVE as ACTIVE_UPLOADS
from vsrc.services.media import media_prefixes
from vsrc.storage import Storage

log = logging.getLogger("vsrc.services.orphans")

# The folders of media_prefixes, in its order (the signed marker last: files still being removed
# stay behind a token).
ITEM_FOLDERS = tuple(prefix.rsplit("/", 1)[0] for prefix in media_prefixes("ID"))
_QUERY_BATCH = 500


@dataclass(frozen=True)
class Orphan:
    item: str
    age: float  # seconds since anything under the item was written
    prefixes: tuple[str, ...]  # where it has files, in removal order


def find_orphans(
    sessions: sessionmaker[Session], storage: Storage, *, min_age: float, now: float | None = None
) -> list[Orphan]:
    """Items with stored files, no row, and nothing written for ``min_age`` seconds, oldest first."""
    newest: dict[str, float] = {}
    places: dict[str, list[str]] = {}
    for folder in ITEM_FOLDERS:
        for name, when in storage.children(folder).items():
            if name.startswith("."):
                continue  # a write in progress (a temp file before its rename), not an item
            newest[name] = max(when, newest.get(name, when))
            places.setdefault(name, []).append(f"{folder}/{name}")
    # Storage is listed before the rows are read: a row committed meanwhile is seen.
    with transaction(sessions) as session:
        known = _known_items(session, list(newest))
    now = time.time() if now is None else now
    orphans = [
        Orphan(name, now - when, tuple(places[name]))
        for name, when in newest.items()
        if name not in known and now - when >= min_age
    ]
    return sorted(orphans, key=lambda o: (-o.age, o.item))


def remove_orphans(storage: Storage, orphans: Iterable[Orphan]) -> int:
    """Delete every file of ``orphans``; returns how many files were removed."""
    removed = 0
    for orphan in orphans:
        for prefix in orphan.prefixes:
            removed += storage.delete_prefix(prefix)
    return removed


def sweep_orphans(sessions: sessionmaker[Session], storage: Storage, *, min_age: float) -> list[Orphan]:
    """Find and remove orphans; returns what was removed."""
    orphans = find_orphans(sessions, storage, min_age=min_age)
    if orphans:
        files = remove_orphans(storage, orphans)
        log.warning(
            "removed %d orphaned item(s) (%d files) from storage: %s",
            len(orphans),
            files,
            ", ".join(o.item for o in orphans[:20]),
        )
    return orphans


def items_with_rows(sessions: sessionmaker[Session], names: list[str]) -> set[str]:
    """Which of ``names`` have a ``media`` or ``live_streams`` row."""
    with transaction(sessions) as session:
        return _known_items(session, names)


def _known_items(session: Session, names: list[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(names), _QUERY_BATCH):
        batch = names[start : start + _QUERY_BATCH]
        known.update(session.scalars(select(Media.public_id).where(Media.public_id.in_(batch))))
        known.update(session.scalars(select(LiveStream.public_id).where(LiveStream.public_id.in_(batch))))
    if names:
        # An active direct upload owns the item of its original before any media row exists: on S3
        # its multipart upload began at creation, and a completed object is as old as that start.
        keys = session.scalars(
            select(DirectUpload.source_key).where(
                DirectUpload.status.in_(ACTIVE_UPLOADS), DirectUpload.source_key.is_not(None)
            )
        )
        wanted = set(names)
        known.update(name for key in keys if key and (name := _item_of_key(key)) in wanted)
    return known


def _item_of_key(key: str) -> str | None:
    parts = key.split("/")
    return parts[1] if len(parts) >= 2 and parts[0] in ITEM_FOLDERS else None
