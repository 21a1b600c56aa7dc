"""Rate limiting: RateLimit-* headers, 429 with Retry-After in the envelope, per client IP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_server, stop_server


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("rl"))
    stop_server(srv)
    srv = start_server(srv.settings.data_dir, rate_limit_override="5/15 minutes")
    yield srv
    stop_server(srv)


def test_headers_then_429(limited: Server) -> None:
    _, read = limited.account_keys()
    with limited.client(read) as client:
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
        beacon = client.post("/api/analytics/batch", json={"events": []})
        assert beacon.status_code != 429 and "RateLimit-Limit" not in beacon.headers
