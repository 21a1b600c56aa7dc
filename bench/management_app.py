"""The management benchmark's baseline: a bare FastAPI + SQLAlchemy app on VSRC's database.

What an ordinary FastAPI + SQLAlchemy app would do for the same answers: a ``def`` route, a session
from a ``Depends`` generator, the ORM models and queries of ``GET /api/v1/media`` (count, a page
newest first, the page's tags by ``selectinload``) and ``GET /api/v1/media/{id}``, and a dict
serialised by FastAPI. No authentication, no rate limiter, no middleware. ``/health`` answers a
constant, as a bare app's liveness route does.

``BENCH_DB_URL`` names the database (the same SQLite file VSRC serves), ``BENCH_ACCOUNT_ID`` the
account whose media are listed (the one VSRC's key belongs to).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from vsrc.db.models import Media

PUBLIC_URL = "http://localhost:8000"

# As many connections as FastAPI's thread pool has threads (40): with fewer, a quiet machine's wrk
# -c50 makes the sync session dependency wait for the pool until QueuePool times out.
engine = create_engine(
    os.environ.get("BENCH_DB_URL", "sqlite://"),
    connect_args={"check_same_thread": False},
    pool_size=40,
    max_overflow=0,
)
Sessions = sessionmaker(engine)
ACCOUNT_ID = int(os.environ.get("BENCH_ACCOUNT_ID", "1"))

app = FastAPI()


def get_db() -> Iterator[Session]:
    with Sessions() as session:
        yield session


Db = Annotated[Session, Depends(get_db)]


def _iso(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _item(media: Media) -> dict[str, Any]:
    done = media.encoding_status == "completed"
    playing = media.encoding_status in ("processing", "completed")
    return {
        "mediaId": media.public_id,
        "title": media.title,
        "description": media.description,
        "fileSize": media.file_size,
        "mimeType": media.mime_type,
        "encodingStatus": media.encoding_status,
        "uploadStatus": media.upload_status,
        "tags": [{"id": t.id, "name": t.name, "color": t.color} for t in media.tags],
        "createdAt": _iso(media.created_at),
        "updatedAt": _iso(media.updated_at),
        "encodingProgress": media.encoding_progress,
        "duration": media.duration,
        "playbackUrl": f"{PUBLIC_URL}/hls/{media.public_id}/master.m3u8" if playing else None,
        "thumbnailUrl": f"{PUBLIC_URL}/thumbnails/{media.public_id}/poster.jpg" if done else None,
        "errorMessage": media.error_message,
        "playbackPolicy": media.playback_policy,
    }


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/v1/media")
def list_media(db: Db, page: int = 1, limit: int = 20) -> dict[str, Any]:
    mine = Media.account_id == ACCOUNT_ID
    total = db.scalar(select(func.count()).select_from(Media).where(mine)) or 0
    rows = db.scalars(
        select(Media)
        .where(mine)
        .order_by(Media.created_at.desc(), Media.id.desc())
        .limit(limit)
        .offset((page - 1) * limit)
        .options(selectinload(Media.tags))
    )
    pagination = {"page": page, "limit": limit, "total": total, "totalPages": (total + limit - 1) // limit}
    return {"success": True, "data": {"media": [_item(m) for m in rows], "pagination": pagination}}


@app.get("/api/v1/media/{media_id}")
def get_media(media_id: str, db: Db) -> dict[str, Any]:
    media = db.scalar(
        select(Media)
        .where(Media.public_id == media_id, Media.account_id == ACCOUNT_ID)
        .options(selectinload(Media.tags))
    )
    if media is None:
        raise HTTPException(404, "Media not found")
    item = _item(media) | {"originalWidth": media.original_width, "originalHeight": media.original_height}
    return {"success": True, "data": item}
