"""The encode status machine on a real database: claims, take-overs, forgotten pending media."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import sessions_for
from tests.helpers import eventually
from vsrc.config import Settings
from vsrc.db.migrate import upgrade
from vsrc.db.models import Media
from vsrc.db.session import transaction
from vsrc.services import encoding, keys
from vsrc.timeutil import utcnow


def database_with_media(tmp_path: Path, *public_ids: str) -> sessionmaker[Session]:
    """A migrated SQLite database holding one `pending` media row per id."""
    settings = Settings(data_dir=tmp_path)
    upgrade(settings.sqlalchemy_url)
    sessions = sessions_for(settings.sqlalchemy_url)
    with transaction(sessions) as session:
        account = keys.get_or_create_account(session, email="w@x")
        for public_id in public_ids:
            session.add(
                Media(
                    public_id=public_id,
                    account_id=account.id,
                    title="t",
                    file_size=1,
                    mime_type="video/mp4",
                    source_key="k",
                )
            )
    return sessions


def test_a_taken_over_attempt_can_neither_beat_nor_finish(tmp_path: Path) -> None:
    sessions = database_with_media(tmp_path, "vod_1")
    with transaction(sessions) as session:
        a = encoding.claim(session, public_id="vod_1", stale_after=60)
        assert a is not None and a.encode_attempts == 1
        assert encoding.claim(session, public_id="vod_1", stale_after=60) is None  # A is alive

    def a_looks_dead() -> bool:
        with sessions() as session:
            return encoding.stale_jobs(session, stale_after=0.01) == ["vod_1"]

    eventually(a_looks_dead, what="A's heartbeat older than 0.01 s")
    with transaction(sessions) as session:
        b = encoding.claim(session, public_id="vod_1", stale_after=0.01)  # A looks dead: B takes over
        assert b is not None and b.encode_attempts == 2
    with transaction(sessions) as session:
        assert encoding.heartbeat(session, media_id=a.id, attempt=1, progress=50) is False
        assert encoding.heartbeat(session, media_id=b.id, attempt=2, progress=10) is True
        assert encoding.heartbeat(session, media_id=b.id, attempt=2, progress=5) is True  # never backwards
        encoding.finish(session, media_id=a.id, attempt=1, status="pending")  # A's late clean-up: no-op
    with transaction(sessions) as session:
        assert tuple(session.execute(select(Media.encoding_status, Media.encoding_progress)).one()) == (
            "processing",
            10,
        )
        encoding.finish(session, media_id=b.id, attempt=2, status="completed")
    with transaction(sessions) as session:
        assert tuple(session.execute(select(Media.encoding_status, Media.encoding_progress)).one()) == (
            "completed",
            100,
        )


def test_forgotten_pending_media_are_requeued_once_per_period(tmp_path: Path) -> None:
    sessions = database_with_media(tmp_path, "vod_old", "vod_new")
    with transaction(sessions) as session:
        session.execute(
            update(Media).where(Media.public_id == "vod_old").values(updated_at=utcnow() - timedelta(hours=1))
        )
    with transaction(sessions) as session:
        assert encoding.forgotten_jobs(session, older_than=600) == ["vod_old"]
    with transaction(sessions) as session:
        assert encoding.forgotten_jobs(session, older_than=600) == []
