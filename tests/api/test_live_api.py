"""`POST /api/v1/live`: the seed's shape, stream keys, server selection and validation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.conftest import Server
from vsrc.db.models import RtmpServer
from vsrc.db.session import transaction
from vsrc.timeutil import utcnow


def test_create_live_matches_seed(server: Server) -> None:
    write, _ = server.account_keys()
    with server.client(write) as client:
        resp = client.post(
            "/api/v1/live", json={"title": "My Live Event", "description": "Live broadcast from our event"}
        )
    assert resp.status_code == 201
    body = resp.json()
    assert body["success"] is True and body["message"] == "Live stream created successfully"
    data = body["data"]
    assert set(data) == {
        "streamKey",
        "mediaId",
        "title",
        "description",
        "rtmpUrl",
        "streamUrl",
        "expiresIn",
        "expiresAt",
    }
    assert re.match(r"^live_[0-9a-f\-]{36}$", data["mediaId"])
    assert re.match(r"^\d+_[0-9a-f]{24,}$", data["streamKey"])
    assert data["rtmpUrl"] == "rtmp://localhost:1935/live"
    assert data["streamUrl"] == f"rtmp://localhost:1935/live/{data['streamKey']}"
    assert data["title"] == "My Live Event" and data["description"] == "Live broadcast from our event"
    assert data["expiresIn"] == "24h"
    expires = datetime.strptime(data["expiresAt"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(expires - datetime.now(UTC) - timedelta(hours=24)) < timedelta(minutes=1)


def test_server_selection(server: Server) -> None:
    sessions = server.sessions
    with transaction(sessions) as session:
        east = RtmpServer(name="east", region="us-east", rtmp_url="rtmp://east.example/live", status="online")
        down = RtmpServer(name="eu", region="eu-west", rtmp_url="rtmp://eu.example/live", status="offline")
        # Marked online, but its ingest stopped heart-beating a minute ago: it died.
        dead = RtmpServer(
            name="ap",
            region="ap-south",
            rtmp_url="rtmp://ap.example/live",
            status="online",
            last_heartbeat_at=utcnow() - timedelta(minutes=1),
        )
        session.add_all([east, down, dead])
        session.flush()
        east_id, down_id, dead_id = east.id, down.id, dead.id
    write, _ = server.account_keys()
    with server.client(write) as client:
        by_region = client.post("/api/v1/live", json={"title": "a", "region": "us-east"}).json()["data"]
        assert by_region["rtmpUrl"] == "rtmp://east.example/live"
        assert by_region["streamKey"].startswith(f"{east_id}_")
        by_id = client.post("/api/v1/live", json={"title": "a", "serverId": east_id}).json()["data"]
        assert by_id["streamKey"].startswith(f"{east_id}_")
        # Well-formed choices nothing can serve: 404 (no such server), 409 (nothing online there).
        for payload, status in [
            ({"title": "a", "serverId": 9999}, 404),
            ({"title": "a", "serverId": down_id}, 409),
            ({"title": "a", "region": "eu-west"}, 409),
            ({"title": "a", "region": "mars"}, 409),
        ]:
            resp = client.post("/api/v1/live", json=payload)
            assert resp.status_code == status, (payload, resp.text)
            assert resp.json()["success"] is False
        for payload, field in [
            ({"title": ""}, "title"),
            ({}, "title"),
            ({"title": "t" * 256}, "title"),
            ({"title": "a", "description": "d" * 1001}, "description"),
            ({"title": "a", "serverId": "abc"}, "serverId"),
        ]:
            resp = client.post("/api/v1/live", json=payload)
            assert resp.status_code == 400, payload
            assert field in [e["field"] for e in resp.json()["errors"]], payload
        assert (
            client.post(
                "/api/v1/live", content=b"{not json", headers={"Content-Type": "application/json"}
            ).status_code
            == 400
        )
    with transaction(sessions) as session:
        for sid in (east_id, down_id, dead_id):
            session.get(RtmpServer, sid).status = "offline"  # type: ignore[union-attr]


def test_stream_keys_are_unique(server: Server) -> None:
    write, _ = server.account_keys()
    with server.client(write) as client:
        keys = {
            client.post("/api/v1/live", json={"title": "k"}).json()["data"]["streamKey"] for _ in range(5)
        }
    assert len(keys) == 5
