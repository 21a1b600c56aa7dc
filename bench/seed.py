"""Seed a migrated VSRC database with N media and M tags for one account (SQLAlchemy Core, one transaction).

Deterministic (fixed random seed). Tags are named ``t1`` .. ``tM``; every media item gets
``tags_per_media`` distinct random tags, and every 100th item carries ``t1``, ``t2`` and ``t3``
together so that ``match=all`` searches have results.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select

from vsrc.db.models import DEFAULT_TAG_COLOR, Account, Media, Tag, media_tags

STATUSES = ("completed",) * 7 + ("pending", "processing", "failed")
EPOCH = datetime(2024, 1, 1)
BATCH = 20_000
ALL_TAGS = ("t1", "t2", "t3")


@dataclass(frozen=True)
class Seeded:
    account_id: int
    media_ids: list[str]  # public ids, in insertion order
    media_count: int
    tag_count: int
    link_count: int


def _batches(rows: Iterator[dict[str, object]], size: int = BATCH) -> Iterator[list[dict[str, object]]]:
    batch: list[dict[str, object]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _media_rows(
    rng: random.Random, account_id: int, count: int, public_ids: list[str]
) -> Iterator[dict[str, object]]:
    for i in range(count):
        created = EPOCH + timedelta(seconds=37 * i + rng.randrange(30))
        status = rng.choice(STATUSES)
        public_id = f"vod_{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        public_ids.append(public_id)
        yield {
            "public_id": public_id,
            "account_id": account_id,
            "title": f"Benchmark video {i}",
            "description": f"Seeded item {i} for the API benchmark",
            "file_size": rng.randrange(1_000_000, 2_000_000_000),
            "mime_type": "video/mp4",
            "original_filename": f"video-{i}.mp4",
            "source_key": f"media/{public_id}/original.mp4",
            "encoding_status": status,
            "upload_status": "completed",
            "encoding_progress": 100 if status == "completed" else 0,
            "error_message": "ffmpeg exited with 1" if status == "failed" else None,
            "encode_attempts": 1,
            "original_width": 1920,
            "original_height": 1080,
            "duration": 60.0 + i % 600,
            "created_at": created,
            "updated_at": created,
        }


def seed(
    engine: Engine,
    *,
    account_email: str,
    media: int = 100_000,
    tags: int = 1_000,
    tags_per_media: int = 5,
    random_seed: int = 42,
) -> Seeded:
    """Insert the rows for the (existing) account ``account_email``; returns what was made."""
    rng = random.Random(random_seed)
    public_ids: list[str] = []
    links = 0
    with engine.begin() as conn:
        account_id = conn.scalar(select(Account.id).where(Account.email == account_email))
        if account_id is None:
            raise LookupError(f"no account {account_email}: create a key for it first")
        now = datetime(2024, 1, 1)
        conn.execute(
            insert(Tag),
            [
                {
                    "account_id": account_id,
                    "name": f"t{n}",
                    "name_key": f"t{n}",
                    "color": DEFAULT_TAG_COLOR,
                    "created_at": now,
                }
                for n in range(1, tags + 1)
            ],
        )
        rows = conn.execute(select(Tag.name, Tag.id).where(Tag.account_id == account_id))
        tag_id: dict[str, int] = {name: id_ for name, id_ in rows}  # noqa: C416
        tag_ids = [tag_id[f"t{n}"] for n in range(1, tags + 1)]
        forced = [tag_id[name] for name in ALL_TAGS]
        first_id = (conn.scalar(select(Media.id).order_by(Media.id.desc()).limit(1)) or 0) + 1
        for batch in _batches(_media_rows(rng, account_id, media, public_ids)):
            conn.execute(insert(Media), batch)
        link_rows: list[dict[str, object]] = []
        for offset in range(media):
            chosen = set(forced) if offset % 100 == 0 else set()
            while len(chosen) < tags_per_media:
                chosen.add(rng.choice(tag_ids))
            link_rows.extend({"media_id": first_id + offset, "tag_id": t} for t in chosen)
            if len(link_rows) >= BATCH:
                conn.execute(insert(media_tags), link_rows)
                links += len(link_rows)
                link_rows = []
        if link_rows:
            conn.execute(insert(media_tags), link_rows)
            links += len(link_rows)
        last_id = conn.scalar(select(Media.id).order_by(Media.id.desc()).limit(1))
        if last_id != first_id + media - 1:
            raise RuntimeError("media ids are not contiguous: seed an empty database")
    return Seeded(account_id, public_ids, media, tags, links)
