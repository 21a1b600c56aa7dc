"""Player analytics through a real server: WS and HTTP ingest, validation, rate limits, retention,
tenant isolation and the aggregate numbers on a hand-built event sequence."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.conftest import Server, start_server, stop_server, upload_file
from vsrc.db.models import AnalyticsEvent
from vsrc.db.session import make_engine, make_session_factory, transaction
from vsrc.services.analytics import AnalyticsIngest, purge_old_events
from vsrc.services.analytics_stats import WatchPoint, watch_intervals
from vsrc.timeutil import utcnow

NOW_MS = int(time.time() * 1000)


def event(media_id: str, kind: str = "play", session_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """A wire event exactly as the VSRCPlayer builds it."""
    ev: dict[str, Any] = {
        "event": kind,
        "type": kind,
        "sessionId": session_id or str(uuid.uuid4()),
        "mediaId": media_id,
        "playerType": "live" if media_id.startswith("live_") else "vod",
        "currentTime": 0,
        "duration": 60.0,
        "quality": "360p",
        "timestamp": NOW_MS,
    }
    ev.update(fields)
    return ev


def stored(server: Server, media_id: str) -> list[AnalyticsEvent]:
    sessions = make_session_factory(make_engine(server.settings.sqlalchemy_url))
    with transaction(sessions) as session:
        query = select(AnalyticsEvent).where(AnalyticsEvent.media_public_id == media_id)
        return list(session.scalars(query.order_by(AnalyticsEvent.id)))


def total_stored(server: Server) -> int:
    sessions = make_session_factory(make_engine(server.settings.sqlalchemy_url))
    with transaction(sessions) as session:
        return int(session.scalar(select(func.count()).select_from(AnalyticsEvent)) or 0)


def ws_url(server: Server) -> str:
    return server.url.replace("http://", "ws://") + "/ws/analytics"


@pytest.fixture(scope="module")
def owned(server: Server, clips: dict[str, Path]) -> tuple[str, str, str]:
    """An account's (read key, vod id, live id)."""
    write, read = server.account_keys()
    vod = upload_file(server, write, clips["mp4"])
    with server.client(write) as client:
        live = client.post("/api/v1/live", json={"title": "live"}).json()["data"]["mediaId"]
    return read, vod, live


def analytics_of(server: Server, key: str, media_id: str, **params: str) -> dict[str, Any]:
    with server.client(key) as client:
        resp = client.get(f"/api/v1/media/{media_id}/analytics", params=params)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()["data"]
    return data


def test_post_batch_and_single_event(server: Server, owned: tuple[str, str, str]) -> None:
    _, vod, _ = owned
    sid = str(uuid.uuid4())
    with server.client() as client:
        resp = client.post(
            "/api/analytics/batch",
            json={"events": [event(vod, "play", sid), event(vod, "pause", sid, currentTime=2.5)]},
        )
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"success": True, "data": {"accepted": 2, "dropped": 0}}
        resp = client.post(
            "/api/analytics/event",
            json=event(vod, "seek", sid, currentTime=9.0, data={"from": 2.5, "to": 9.0}),
        )
        assert resp.status_code == 200 and resp.json()["data"]["accepted"] == 1
    rows = [r for r in stored(server, vod) if r.session_id == sid]
    assert [(r.event, r.current_time) for r in rows] == [("play", 0), ("pause", 2.5), ("seek", 9.0)]
    assert rows[2].data == {"from": 2.5, "to": 9.0} and rows[0].quality == "360p"
    assert rows[0].client_ts == NOW_MS and rows[0].duration == 60.0


def test_text_plain_beacon_is_parsed_as_json(server: Server, owned: tuple[str, str, str]) -> None:
    _, vod, _ = owned
    sid = str(uuid.uuid4())
    body = json.dumps({"events": [event(vod, "pause", sid, currentTime=4)]})
    with server.client() as client:
        resp = client.post(
            "/api/analytics/batch", content=body, headers={"Content-Type": "text/plain;charset=UTF-8"}
        )
    assert resp.status_code == 200, resp.text
    assert [r.event for r in stored(server, vod) if r.session_id == sid] == ["pause"]


def test_cors_preflight_from_another_origin(server: Server) -> None:
    with server.client() as client:
        resp = client.options(
            "/api/analytics/batch",
            headers={
                "Origin": "https://customer.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] in ("*", "https://customer.example")


def test_websocket_stores_valid_events_and_skips_bad_ones(
    server: Server, owned: tuple[str, str, str]
) -> None:
    _, vod, live = owned
    sid = str(uuid.uuid4())
    with connect(ws_url(server), open_timeout=5) as ws:
        ws.send(json.dumps({"events": [event(vod, "play", sid), event(live, "buffer", sid, duration=None)]}))
        assert json.loads(ws.recv(timeout=5)) == {
            "success": True,
            "accepted": 2,
            "dropped": 0,
            "message": None,
            "errors": [],
        }
        bad = [
            event(vod, "pause", sid),
            event(vod, "rewind", sid),
            event("vod_" + str(uuid.uuid4()), "play", sid),
        ]
        ws.send(json.dumps({"events": bad}).encode())  # binary frames are accepted too
        reply = json.loads(ws.recv(timeout=5))
        assert reply["success"] is False and reply["accepted"] == 1
        assert {e["field"] for e in reply["errors"]} == {"events[1].event", "events[2].mediaId"}
        ws.send("not json")
        reply = json.loads(ws.recv(timeout=5))
        assert reply["accepted"] == 0 and reply["errors"][0]["field"] == "body"
        # Still open after bad frames; a frame over 64 KiB closes it with 1009.
        ws.send("x" * (65 * 1024))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert [r.event for r in stored(server, vod) if r.session_id == sid] == ["play", "pause"]
    assert [r.event for r in stored(server, live) if r.session_id == sid] == ["buffer"]


BAD_EVENTS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown type", {"event": "rewind", "type": "rewind"}, "event"),
    ("type/event disagree", {"type": "pause"}, "event"),
    ("no session", {"sessionId": None}, "sessionId"),
    ("session too long", {"sessionId": "a" * 65}, "sessionId"),
    ("session odd chars", {"sessionId": "abc def <script>"}, "sessionId"),
    ("bad media id", {"mediaId": "media_1"}, "mediaId"),
    ("negative position", {"currentTime": -1}, "currentTime"),
    ("huge position", {"currentTime": 1e12}, "currentTime"),
    ("bool position", {"currentTime": True}, "currentTime"),
    ("string position", {"currentTime": "3"}, "currentTime"),
    ("bad duration", {"duration": "long"}, "duration"),
    ("bad quality", {"quality": "<b>720p</b>"}, "quality"),
    ("bad timestamp", {"timestamp": 12}, "timestamp"),
    ("bad player type", {"playerType": "flash"}, "playerType"),
    ("data not object", {"data": [1, 2]}, "data"),
    ("data too big", {"data": {"x": "y" * 3000}}, "data"),
]


@pytest.mark.parametrize(
    ("fields", "field"), [(f, n) for _, f, n in BAD_EVENTS], ids=[i for i, _, _ in BAD_EVENTS]
)
def test_invalid_event_rejects_whole_batch(
    server: Server, owned: tuple[str, str, str], fields: dict[str, Any], field: str
) -> None:
    _, vod, _ = owned
    before = total_stored(server)
    with server.client() as client:
        resp = client.post("/api/analytics/batch", json={"events": [event(vod), event(vod, **fields)]})
        assert resp.status_code == 400, resp.text
        body = resp.json()
        assert body["success"] is False and body["message"] == "Invalid analytics events"
        assert [e["field"] for e in body["errors"]] == [f"events[1].{field}"]
        single = client.post("/api/analytics/event", json=event(vod, **fields))
        assert single.status_code == 400 and single.json()["errors"][0]["field"] == field
    assert total_stored(server) == before


@pytest.mark.parametrize("prefix", ["vod_", "live_"])
def test_events_about_unknown_media_are_404(server: Server, owned: tuple[str, str, str], prefix: str) -> None:
    """Well-formed, but about media that does not exist: 404, and nothing of the batch is stored."""
    _, vod, _ = owned
    unknown = prefix + str(uuid.uuid4())
    before = total_stored(server)
    with server.client() as client:
        resp = client.post("/api/analytics/batch", json={"events": [event(vod), event(unknown)]})
        assert resp.status_code == 404, resp.text
        assert resp.json() == {"success": False, "message": f"Unknown media {unknown}"}
        assert client.post("/api/analytics/event", json=event(unknown)).status_code == 404
    assert total_stored(server) == before


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b'{"events": []}', 400),
        (b'{"events": "play"}', 400),
        (b"[1, 2]", 400),
        (b"42", 400),
        (b'{"events": [{"event": "play", "currentTime": NaN}]}', 400),
        (b'{"events": [{"event": "play", "currentTime": Infinity}]}', 400),
    ],
)
def test_malformed_bodies(server: Server, body: bytes, status: int) -> None:
    before = total_stored(server)
    with server.client() as client:
        resp = client.post("/api/analytics/batch", content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == status, resp.text
    assert resp.json()["success"] is False
    assert total_stored(server) == before


def test_batch_and_body_limits(server: Server, owned: tuple[str, str, str]) -> None:
    _, vod, _ = owned
    before = total_stored(server)
    with server.client() as client:
        too_many = client.post("/api/analytics/batch", json={"events": [event(vod)] * 101})
        assert too_many.status_code == 400 and too_many.json()["errors"][0]["field"] == "events"
        big = json.dumps({"events": [event(vod, data={"pad": "x" * 1500}) for _ in range(50)]})
        assert len(big) > 64 * 1024
        resp = client.post("/api/analytics/batch", content=big, headers={"Content-Type": "application/json"})
        assert resp.status_code == 413
        # Chunked (no Content-Length): the cap holds while reading.
        resp = client.post("/api/analytics/batch", content=iter([big.encode()[:40000], big.encode()[40000:]]))
        assert resp.status_code == 413
    assert total_stored(server) == before


def test_analytics_are_account_scoped(server: Server, owned: tuple[str, str, str]) -> None:
    read, vod, live = owned
    _, other_read = server.account_keys()
    with server.client(other_read) as client:
        for media_id in (vod, live, "vod_" + str(uuid.uuid4())):
            resp = client.get(f"/api/v1/media/{media_id}/analytics")
            assert resp.status_code == 404 and resp.json()["success"] is False
    with server.client() as client:
        assert client.get(f"/api/v1/media/{vod}/analytics").status_code == 401
    with server.client(read) as client:
        assert client.get(f"/api/v1/media/{live}/analytics").status_code == 200
        assert client.get("/api/v1/media/nope_1/analytics").status_code == 400


def test_aggregates_on_a_hand_built_sequence(server: Server, clips: dict[str, Path]) -> None:
    write, read = server.account_keys()
    vod = upload_file(server, write, clips["mp4"])
    t = NOW_MS - 120_000
    s1, s2, s3, s4 = (str(uuid.uuid4()) for _ in range(4))
    sequence = [
        # s1: 0→10 (pause), 10→15 then seek to 40, 40→45 (quality change), 45→50 (ended) = 25 s
        event(vod, "play", s1, currentTime=0, timestamp=t),
        event(vod, "pause", s1, currentTime=10, timestamp=t + 10_000),
        event(vod, "play", s1, currentTime=10, timestamp=t + 20_000),
        event(vod, "seek", s1, currentTime=40, timestamp=t + 25_000, data={"from": 15, "to": 40}),
        event(
            vod,
            "quality_change",
            s1,
            currentTime=45,
            timestamp=t + 30_000,
            data={"from": "360p", "to": "240p"},
        ),
        event(vod, "ended", s1, currentTime=50, timestamp=t + 35_000),
        # s2: 0→3 (buffer), 3→8 (pause) = 8 s; a seek while paused adds nothing
        event(vod, "play", s2, currentTime=0, timestamp=t),
        event(vod, "buffer", s2, currentTime=3, timestamp=t + 3_000),
        event(vod, "pause", s2, currentTime=8, timestamp=t + 9_000),
        event(vod, "seek", s2, currentTime=30, timestamp=t + 12_000, data={"from": 8, "to": 30}),
        # s3: no play: a session, not a view
        event(vod, "error", s3, currentTime=0, timestamp=t, data={"code": "PLAYBACK_ERROR"}),
        # s4: claims 1000 s watched in 2 s of wall clock: capped to 2 s x 2 + 1 = 5 s
        event(vod, "play", s4, currentTime=0, timestamp=t),
        event(vod, "pause", s4, currentTime=1000, duration=2000, timestamp=t + 2_000),
    ]
    # Out of order and split over two transports: the client timestamps order each session.
    with server.client() as client:
        resp = client.post("/api/analytics/batch", json={"events": sequence[::-2]})
        assert resp.status_code == 200, resp.text
    with connect(ws_url(server)) as ws:
        ws.send(json.dumps({"events": sequence[-2::-2]}))
        assert json.loads(ws.recv(timeout=5))["accepted"] == len(sequence) // 2
    data = analytics_of(server, read, vod)
    today = datetime.now(UTC).date()
    assert data["mediaId"] == vod
    assert data["views"] == 3 and data["uniqueSessions"] == 4
    assert data["totalWatchTimeSeconds"] == pytest.approx(38.0)
    assert data["eventCounts"] == {
        "play": 4,
        "pause": 3,
        "seek": 2,
        "ended": 1,
        "error": 1,
        "buffer": 1,
        "quality_change": 1,
    }
    series = data["series"]
    assert len(series) == 30 and data["to"] == series[-1]["date"] == today.isoformat()
    assert data["from"] == series[0]["date"] == (today - timedelta(days=29)).isoformat()
    assert series[-1] == {"date": today.isoformat(), "views": 3, "watchTimeSeconds": pytest.approx(38.0)}
    assert all(p["views"] == 0 and p["watchTimeSeconds"] == 0 for p in series[:-1])
    # A window that ends yesterday sees nothing.
    yesterday = (today - timedelta(days=1)).isoformat()
    past = analytics_of(
        server, read, vod, **{"from": (today - timedelta(days=3)).isoformat(), "to": yesterday}
    )
    assert past["views"] == 0 and past["totalWatchTimeSeconds"] == 0 and len(past["series"]) == 3


def test_window_validation(server: Server, owned: tuple[str, str, str]) -> None:
    read, vod, _ = owned
    with server.client(read) as client:
        for params, field in [
            ({"from": "2026-02-01", "to": "2026-01-01"}, "from"),
            ({"from": "2020-01-01", "to": "2026-01-01"}, "from"),
            ({"from": "yesterday"}, "from"),
            ({"to": "2026-13-01"}, "to"),
        ]:
            resp = client.get(f"/api/v1/media/{vod}/analytics", params=params)
            assert resp.status_code == 400, (params, resp.text)
            assert resp.json()["errors"][0]["field"] == field
    today = datetime.now(UTC).date()
    only_from = analytics_of(server, read, vod, **{"from": (today - timedelta(days=6)).isoformat()})
    assert len(only_from["series"]) == 7 and only_from["to"] == today.isoformat()


def test_watch_intervals_estimate() -> None:
    day = date(2026, 1, 1)

    def p(kind: str, pos: float, ts: int | None, seek_from: float | None = None) -> WatchPoint:
        return WatchPoint(kind, pos, ts, day, None, seek_from)

    # Seeking backwards while playing: 0→20 counted, then 5→12.
    pieces = list(watch_intervals([p("play", 0, 0), p("seek", 5, 20_000, 20), p("pause", 12, 27_000)]))
    assert [s for _, s in pieces] == [20, 7]
    # No timestamps: no wall-clock cap; a pause without a play counts nothing; backwards counts nothing.
    assert list(watch_intervals([p("pause", 10, None), p("play", 10, None), p("pause", 4, None)])) == []
    assert sum(s for _, s in watch_intervals([p("play", 0, None), p("ended", 90, None)])) == 90


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("limited"), analytics_session_limit="5/minute", analytics_ip_limit="8/minute"
    )
    yield srv
    stop_server(srv)


def test_rate_limits_drop_the_excess(limited: Server, clips: dict[str, Path]) -> None:
    write, _ = limited.account_keys()
    vod = upload_file(limited, write, clips["mp4"])
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    with limited.client() as client:
        resp = client.post("/api/analytics/batch", json={"events": [event(vod, "buffer", a)] * 7})
        assert resp.status_code == 200 and resp.json()["data"] == {"accepted": 5, "dropped": 2}
        resp = client.post("/api/analytics/event", json=event(vod, "pause", a))
        assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1
        assert resp.json()["success"] is False
        # Session b has its own budget, but the IP has only 3 events left.
        resp = client.post("/api/analytics/batch", json={"events": [event(vod, "buffer", b)] * 4})
        assert resp.json()["data"] == {"accepted": 3, "dropped": 1}
    with connect(ws_url(limited)) as ws:
        ws.send(json.dumps({"events": [event(vod, "play", str(uuid.uuid4()))]}))
        reply = json.loads(ws.recv(timeout=5))
        assert reply["accepted"] == 0 and reply["dropped"] == 1 and reply["success"] is False
    assert len(stored(limited, vod)) == 8


def test_retention_purge(server: Server, owned: tuple[str, str, str]) -> None:
    _, vod, _ = owned
    settings = server.settings
    sessions = make_session_factory(make_engine(settings.sqlalchemy_url))
    old_sid, recent_sid = str(uuid.uuid4()), str(uuid.uuid4())
    with server.client() as client:
        client.post("/api/analytics/batch", json={"events": [event(vod, "play", old_sid)]})
    with transaction(sessions) as session:
        for row in session.scalars(select(AnalyticsEvent).where(AnalyticsEvent.session_id == old_sid)):
            row.created_at = utcnow() - timedelta(days=settings.analytics_retention_days + 1)
    with transaction(sessions) as session:
        assert purge_old_events(session, older_than=utcnow() - timedelta(days=365)) == 0
    # The ingest path purges at most once per purge_interval.
    ingest = AnalyticsIngest(
        sessions,
        ip_limit="100/minute",
        session_limit="100/minute",
        retention_days=settings.analytics_retention_days,
    )
    ingest.ingest([event(vod, "play", recent_sid)], client_ip="10.0.0.1", strict=True, single=True)
    sids = {r.session_id for r in stored(server, vod)}
    assert recent_sid in sids and old_sid not in sids
    assert ingest.counts["accepted"] == 1
