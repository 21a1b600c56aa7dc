"""API keys are trusted for ``VSRC_KEY_CACHE_SECONDS`` per process and their ``lastUsedAt`` is written
by a background thread: revocation still takes effect (within that bound, at once where it was done),
the last use is still recorded, and both hold across several API processes on one database."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from tests.conftest import Server, start_server, stop_server
from tests.helpers import ApiProcess, eventually
from tests.web.conftest import page_csrf, sign_up
from vsrc.db.migrate import upgrade
from vsrc.db.models import ApiKey
from vsrc.db.session import transaction
from vsrc.services.key_usage import KeyUsage
from vsrc.services.keys import create_key, revoke_key

REVOKED = {"success": False, "message": "API key has been revoked"}


def last_used(server: Server, key: str) -> datetime | None:
    with transaction(server.sessions) as session:
        return session.scalar(select(ApiKey.last_used_at).where(ApiKey.prefix == key[:17]))


def revoke_elsewhere(server: Server, key: str) -> None:
    """Revoke the key in the database, as the CLI or another API process does."""
    with transaction(server.sessions) as session:
        revoke_key(session, prefix=key[:17])


def status(url: str, key: str) -> int:
    return httpx.get(
        f"{url}/api/v1/media", headers={"Authorization": f"Bearer {key}"}, timeout=30
    ).status_code


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that writes lastUsedAt five times a second, with the dashboard open for sign-up."""
    srv = start_server(tmp_path_factory.mktemp("keys"), key_touch_seconds=0.2, open_signup=True)
    yield srv
    stop_server(srv)


def test_a_key_revoked_elsewhere_stops_working_within_the_cache_bound(quick: Server) -> None:
    write, _ = quick.account_keys()
    with quick.client(write) as client:
        assert client.get("/api/v1/media").status_code == 200  # checked, now trusted for a while
        revoke_elsewhere(quick, write)
        refused = eventually(
            lambda: (r := client.get("/api/v1/media")).status_code == 401 and r,
            timeout=60,
            what="the revoked key is refused",
        )
    assert refused.json() == REVOKED


def test_a_key_revoked_in_the_dashboard_is_refused_at_once(quick: Server) -> None:
    browser, _email = sign_up(quick)
    token = page_csrf(browser, "/keys")
    made = browser.post("/keys", data={"name": "app", "permission": "read", "csrf_token": token})
    key = re.search(r'data-testid="new-key">([^<]+)<', made.text)
    assert key, made.text
    plaintext = key.group(1)
    assert status(quick.url, plaintext) == 200  # now in this process's cache
    with transaction(quick.sessions) as session:
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.prefix == plaintext[:17]))
    revoked = browser.post(f"/keys/{key_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    # The process that revoked the key drops it from its cache: no grace period here.
    resp = httpx.get(f"{quick.url}/api/v1/media", headers={"Authorization": f"Bearer {plaintext}"})
    assert resp.status_code == 401 and resp.json() == REVOKED


def test_last_used_at_is_written_in_the_background_and_moves_forward(quick: Server) -> None:
    write, read = quick.account_keys()
    assert last_used(quick, write) is None
    assert status(quick.url, write) == 200
    first = eventually(lambda: last_used(quick, write), timeout=60, what="lastUsedAt written")
    assert last_used(quick, read) is None  # only the key that was used
    later = eventually(
        lambda: (
            status(quick.url, write) == 200 and (t := last_used(quick, write)) is not None and t > first and t
        ),
        timeout=60,
        what="lastUsedAt follows later requests",
    )
    assert later > first


def test_a_key_used_from_two_api_processes(quick: Server) -> None:
    """A second, separate `vsrc api` on the same database: each records the key's use, and each
    refuses it once revoked."""
    env = {"VSRC_KEY_TOUCH_SECONDS": "0.2"}
    for name in ("database_url", "redis_url", "storage_url"):
        value = getattr(quick.settings, name)
        if value:
            env[f"VSRC_{name.upper()}"] = value
    other = ApiProcess(quick.settings.data_dir, **env)
    try:
        write, _ = quick.account_keys()
        assert status(other.url, write) == 200
        seen_there = eventually(lambda: last_used(quick, write), timeout=60, what="the other process wrote")
        assert status(quick.url, write) == 200
        eventually(
            lambda: status(quick.url, write) == 200 and (last_used(quick, write) or seen_there) > seen_there,
            timeout=60,
            what="this process wrote a later use",
        )
        revoke_elsewhere(quick, write)
        for url in (quick.url, other.url):
            eventually(lambda url=url: status(url, write) == 401, timeout=60, what=f"revoked on {url}")
    finally:
        other.stop()


def _usage_db(tmp_path: Path) -> tuple[str, int]:
    """A migrated SQLite file of its own with one key (these tests lock it or write old dates)."""
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    upgrade(url)
    engine = create_engine(url)
    with transaction(sessionmaker(engine)) as session:
        key_id = create_key(session, name="k", permission="read", account_email="a@b.c").key.id
    engine.dispose()
    return url, key_id


def test_a_failed_write_keeps_the_use_for_the_next_pass(tmp_path: Path) -> None:
    url, key_id = _usage_db(tmp_path)
    engine = create_engine(url, connect_args={"timeout": 0})  # no busy wait: a lock fails at once
    sessions = sessionmaker(engine, expire_on_commit=False)
    used_at = datetime(2030, 1, 1, 12, 0, 0)
    usage = KeyUsage(sessions, interval=3600, clock=lambda: used_at)
    usage.record(key_id)
    holder = sqlite3.connect(url.removeprefix("sqlite:///"))
    holder.execute("BEGIN EXCLUSIVE")  # another writer holds the database
    with pytest.raises(OperationalError):
        usage.flush()
    holder.rollback()
    holder.close()
    assert usage.flush() == 1
    with transaction(sessions) as session:
        assert session.get(ApiKey, key_id).last_used_at == used_at  # type: ignore[union-attr]
    usage.close()
    engine.dispose()


def test_a_process_with_an_older_use_never_moves_last_used_at_back(tmp_path: Path) -> None:
    url, key_id = _usage_db(tmp_path)
    engine = create_engine(url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    newer = datetime(2030, 1, 1, 12, 0, 0)
    for at in (newer, newer - timedelta(seconds=30)):  # the second "process" noted an earlier use
        usage = KeyUsage(sessions, interval=3600, clock=lambda at=at: at)
        usage.record(key_id)
        usage.close()  # close() writes what is left
    with transaction(sessions) as session:
        assert session.get(ApiKey, key_id).last_used_at == newer  # type: ignore[union-attr]
    engine.dispose()
