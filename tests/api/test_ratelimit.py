"""Rate limiting: RateLimit-* headers, 429 with Retry-After in the envelope, per client IP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from tests.conftest import Server, start_server, stop_server
from vsrc.db.models import AnalyticsEvent


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """A server limited to 5 API calls per 15 minutes, and a live item (made before the limit) to
    send player events for."""
    srv = start_server(tmp_path_factory.mktemp("rl"))
    write, _ = srv.account_keys()
    with srv.client(write) as client:
        live_id = client.post("/api/v1/live", json={"title": "rl"}).json()["data"]["mediaId"]
    stop_server(srv)
    same_db = {"database_url": srv.settings.database_url} if srv.settings.database_url else {}
    srv = start_server(srv.settings.data_dir, rate_limit_override="5/15 minutes", **same_db)
    yield srv, live_id
    stop_server(srv)


def stored_events(server: Server, media_id: str) -> int:
    with server.sessions() as session:
        query = select(func.count()).where(AnalyticsEvent.media_public_id == media_id)
        return int(session.scalar(query) or 0)


def test_headers_then_429(limited: tuple[Server, str]) -> None:
    server, live_id = limited
    _, read = server.account_keys()
    with server.client(read) as client:
        remaining = []
        for _ in range(5):
            resp = client.get("/api/v1/media")
            assert resp.status_code == 200
            assert resp.headers["RateLimit-Limit"] == "5"
            assert 0 < int(resp.headers["RateLimit-Reset"]) <= 900
            remaining.append(int(resp.headers["RateLimit-Remaining"]))
        assert remaining == [4, 3, 2, 1, 0]
        resp = client.get("/api/v1/media")
        assert resp.status_code == 429
        assert resp.json()["success"] is False
        assert 0 < int(resp.headers["Retry-After"]) <= 900
        assert resp.headers["RateLimit-Remaining"] == "0"
        # Playback surface and health are not API calls and stay available.
        assert client.get("/health").status_code == 200
        # Player analytics have their own limits (viewers behind one NAT must not starve the API).
        # Twice the API limit of real events, each stored, none counted against the API limit.
        session_id = str(uuid.uuid4())
        for position in range(10):
            event = {"event": "pause", "type": "pause", "sessionId": session_id, "mediaId": live_id}
            beacon = client.post("/api/analytics/event", json={**event, "currentTime": position})
            assert beacon.status_code == 200, beacon.text
            assert beacon.json()["data"] == {"accepted": 1, "dropped": 0}
            assert "RateLimit-Limit" not in beacon.headers
        assert stored_events(server, live_id) == 10
        assert client.get("/api/v1/media").status_code == 429  # and the API is still limited
