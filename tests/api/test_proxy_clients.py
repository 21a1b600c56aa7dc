"""Behind a trusted proxy each client has its own rate-limit buckets; anyone else's X-Forwarded-For
is ignored. A real ``vsrc api`` process: the proxy connects from 127.0.0.2, direct clients from
127.0.0.1, and only 127.0.0.2 is trusted (``VSRC_FORWARDED_ALLOW_IPS``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import sessions_for
from tests.helpers import ApiProcess
from vsrc.db.session import transaction
from vsrc.services.keys import create_key

pytestmark = pytest.mark.slow

PROXY = "127.0.0.2"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    proc = ApiProcess(
        tmp_path_factory.mktemp("proxy"),
        VSRC_FORWARDED_ALLOW_IPS=PROXY,
        VSRC_RATE_LIMIT="3/15 minutes",
        VSRC_ANALYTICS_IP_LIMIT="2/minute",
    )
    yield proc
    proc.stop()


def _client(api: ApiProcess, local: str) -> httpx.Client:
    return httpx.Client(base_url=api.url, transport=httpx.HTTPTransport(local_address=local), timeout=30)


def _call(client: httpx.Client, forwarded_for: str) -> httpx.Response:
    return client.get("/api/v1/media", headers={"X-Forwarded-For": forwarded_for})


def test_trusted_proxy_gives_each_client_its_own_bucket(api: ApiProcess) -> None:
    with _client(api, PROXY) as proxy:
        first = [_call(proxy, "203.0.113.1") for _ in range(3)]
        assert [int(r.headers["RateLimit-Remaining"]) for r in first] == [2, 1, 0]
        assert _call(proxy, "203.0.113.1").status_code == 429
        # Another client behind the same proxy is not starved by the first.
        other = _call(proxy, "203.0.113.2")
        assert other.status_code != 429 and other.headers["RateLimit-Remaining"] == "2"
        # A chain: the proxy appended the address it saw; that one is the client.
        chained = _call(proxy, "10.9.9.9, 203.0.113.3")
        assert chained.status_code != 429 and chained.headers["RateLimit-Remaining"] == "2"


def test_untrusted_forwarded_for_is_ignored(api: ApiProcess) -> None:
    with _client(api, "127.0.0.1") as direct:
        spoofed = [_call(direct, f"198.51.100.{i}") for i in range(1, 4)]
        assert [int(r.headers["RateLimit-Remaining"]) for r in spoofed] == [2, 1, 0]
        assert _call(direct, "198.51.100.4").status_code == 429
        assert direct.get("/api/v1/media").status_code == 429


def _live_media(api: ApiProcess) -> str:
    with transaction(sessions_for(api.settings.sqlalchemy_url)) as session:
        key = create_key(session, name="t", permission="write", account_email=f"{uuid.uuid4().hex[:8]}@t")
    with _client(api, PROXY) as proxy:
        resp = proxy.post(
            "/api/v1/live",
            json={"title": "live"},
            headers={"Authorization": f"Bearer {key.plaintext}", "X-Forwarded-For": "192.0.2.99"},
        )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["data"]["mediaId"])


def _events(media_id: str, count: int) -> dict[str, object]:
    return {
        "events": [
            {"event": "play", "sessionId": str(uuid.uuid4()), "mediaId": media_id, "currentTime": 0}
            for _ in range(count)
        ]
    }


def test_analytics_ip_limit_per_forwarded_client(api: ApiProcess) -> None:
    media_id = _live_media(api)
    with _client(api, PROXY) as proxy:
        for viewer in ("203.0.113.10", "203.0.113.11"):  # two viewers behind one proxy: 2 events each
            resp = proxy.post(
                "/api/analytics/batch", json=_events(media_id, 3), headers={"X-Forwarded-For": viewer}
            )
            assert resp.status_code == 200 and resp.json()["data"] == {"accepted": 2, "dropped": 1}
    with _client(api, "127.0.0.1") as direct:
        resp = direct.post(
            "/api/analytics/batch", json=_events(media_id, 2), headers={"X-Forwarded-For": "198.51.100.10"}
        )
        assert resp.json()["data"] == {"accepted": 2, "dropped": 0}
        # A new X-Forwarded-For from an untrusted peer is the same client: its budget is spent.
        resp = direct.post(
            "/api/analytics/batch", json=_events(media_id, 1), headers={"X-Forwarded-For": "198.51.100.11"}
        )
        assert resp.status_code == 429
