"""API keys: 401/403 in the envelope, revocation, lastUsedAt, hashing, and tenant isolation."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.api.test_media_api import upload
from tests.conftest import Server
from tests.helpers import eventually
from vsrc.db.models import ApiKey
from vsrc.db.session import transaction
from vsrc.services.keys import revoke_key

VOD = "vod_00000000-0000-4000-8000-000000000000"
ENDPOINTS = [
    ("GET", "/api/v1/media"),
    ("GET", "/api/v1/media/search?tags=a"),
    ("GET", f"/api/v1/media/{VOD}"),
    ("DELETE", f"/api/v1/media/{VOD}"),
    ("GET", f"/api/v1/media/{VOD}/embed"),
    ("POST", "/api/v1/live"),
    ("POST", "/api/v1/media/upload"),
]
WRITE_ENDPOINTS = [e for e in ENDPOINTS if e[0] in ("POST", "DELETE")]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("header", [None, "Bearer", "Bearer vsrc_nope", "Basic abc", "Bearer " + "x" * 60])
def test_missing_or_invalid_key_is_401(server: Server, method: str, path: str, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    with server.client() as client:
        resp = client.request(method, path, headers=headers)
    assert resp.status_code == 401
    assert resp.json()["success"] is False and resp.json()["message"]


@pytest.mark.parametrize(("method", "path"), WRITE_ENDPOINTS)
def test_read_key_on_write_endpoint_is_403(server: Server, method: str, path: str) -> None:
    _, read = server.account_keys()
    with server.client(read) as client:
        resp = client.request(method, path, json={"title": "x"})
    assert resp.status_code == 403
    assert resp.json() == {"success": False, "message": "This API key does not have write permission"}


def test_revoked_key_is_401(server: Server) -> None:
    write, _ = server.account_keys()
    with server.client(write) as client:
        assert client.get("/api/v1/media").status_code == 200
        with transaction(server.sessions) as session:
            revoke_key(session, prefix=write[:14])
        # Keys are trusted for VSRC_KEY_CACHE_SECONDS (test_key_cache.py).
        resp = eventually(lambda: (r := client.get("/api/v1/media")).status_code == 401 and r, timeout=60)
    assert resp.status_code == 401
    assert "revoked" in resp.json()["message"]


def test_key_stored_hashed_and_last_used_kept(server: Server) -> None:
    write, _ = server.account_keys()
    sessions = server.sessions
    with transaction(sessions) as session:
        key = session.scalar(select(ApiKey).where(ApiKey.prefix == write[:17]))
        assert key is not None and key.last_used_at is None
        assert write not in (key.key_hash, key.prefix) and len(key.key_hash) == 64
    with server.client(write) as client:
        client.get("/api/v1/media")

    def used() -> bool:  # written in the background, at most every VSRC_KEY_TOUCH_SECONDS
        with transaction(sessions) as session:
            key = session.scalar(select(ApiKey).where(ApiKey.prefix == write[:17]))
            return key is not None and key.last_used_at is not None

    eventually(used, timeout=60, what="lastUsedAt written")


def test_a_wrong_secret_with_a_valid_prefix_is_401(server: Server) -> None:
    write, _ = server.account_keys()
    forged = write[:-4] + ("0000" if not write.endswith("0000") else "1111")
    with server.client(forged) as client:
        assert client.get("/api/v1/media").status_code == 401


def test_accounts_never_see_each_other(server: Server, clips: dict[str, Path]) -> None:
    alice_w, alice_r = server.account_keys()
    bob_w, _bob_r = server.account_keys()
    media_id = upload(server, alice_w, clips["mp4"], tags="secret")["data"]["mediaId"]
    with server.client(alice_w) as alice:
        live_id = alice.post("/api/v1/live", json={"title": "a"}).json()["data"]["mediaId"]
    with server.client(bob_w) as bob:
        assert bob.get(f"/api/v1/media/{media_id}").status_code == 404
        assert bob.get(f"/api/v1/media/{media_id}/embed").status_code == 404
        assert bob.get(f"/api/v1/media/{live_id}/embed").status_code == 404
        assert bob.delete(f"/api/v1/media/{media_id}").status_code == 404
        assert bob.get("/api/v1/media").json()["data"]["pagination"]["total"] == 0
        assert bob.get("/api/v1/media/search", params={"tags": "secret"}).json()["data"]["media"] == []
        # Bob's own tag of the same name is a different tag.
        bob_media = upload(server, bob_w, clips["mp4"], tags="Secret")["data"]["mediaId"]
        found = bob.get("/api/v1/media/search", params={"tags": "secret"}).json()["data"]["media"]
        assert [m["mediaId"] for m in found] == [bob_media]
    with server.client(alice_r) as alice:
        data = alice.get(f"/api/v1/media/{media_id}").json()["data"]
        assert data["mediaId"] == media_id and data["tags"][0]["name"] == "secret"
        assert alice.get("/api/v1/media").json()["data"]["pagination"]["total"] == 1
