"""A live recording is the only copy of the broadcast: a failing database or storage must not lose it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.conftest import make_clip
from vsrc.config import Settings
from vsrc.db.migrate import upgrade
from vsrc.db.models import Media
from vsrc.db.session import transaction
from vsrc.ingest.authorizer import recording_path
from vsrc.runtime import Runtime
from vsrc.services import live, recordings
from vsrc.services.defaults import ensure_defaults
from vsrc.services.keys import get_or_create_account

FAIL_INSERTS = "CREATE TRIGGER fail_media BEFORE INSERT ON media BEGIN SELECT RAISE(ABORT, 'disk I/O'); END"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    # Its own SQLite database: the failure is a real trigger in it, whatever TEST_POSTGRES_URL says.
    settings = Settings(data_dir=tmp_path / "data")
    upgrade(settings.sqlalchemy_url)
    rt = Runtime(settings)
    with transaction(rt.sessions) as session:
        ensure_defaults(session, rtmp_public_url=settings.rtmp_public_url)
    yield rt
    rt.close()


def _stream(rt: Runtime) -> str:
    with transaction(rt.sessions) as session:
        account = get_or_create_account(session, email="rec@test")
        stream = live.create_live(
            session,
            account_id=account.id,
            title="Show",
            description=None,
            region=None,
            server_id=None,
            storage=rt.storage,
        )
        return stream.public_id


def _vods(rt: Runtime) -> list[Media]:
    with transaction(rt.sessions) as session:
        return list(session.scalars(select(Media)))


def test_a_failing_database_keeps_the_recording_until_the_vod_is_stored(runtime: Runtime) -> None:
    stream_id = _stream(runtime)
    recording = recording_path(runtime.settings.data_dir / "recordings" / "1", stream_id)
    recording.parent.mkdir(parents=True)
    make_clip(recording, seconds=1, extra=["-f", "flv"])
    original = recording.read_bytes()
    with runtime.engine.begin() as conn:
        conn.execute(text(FAIL_INSERTS))

    with pytest.raises(Exception, match="disk I/O"):
        recordings.record_to_vod(runtime.sessions, runtime.storage, stream_id=stream_id, recording=recording)
    assert recording.read_bytes() == original  # still there, whole
    assert _vods(runtime) == []
    assert [p for p in runtime.settings.storage_root.rglob("*") if p.is_file()] == []  # nothing half-stored
    assert [p.name for p in recording.parent.iterdir()] == [recording.name]

    with runtime.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER fail_media"))
    media = recordings.record_to_vod(
        runtime.sessions, runtime.storage, stream_id=stream_id, recording=recording
    )
    assert media is not None and not recording.exists()
    assert runtime.storage.local_path(media.source_key).read_bytes() == original
