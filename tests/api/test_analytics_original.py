"""The original, unmodified VSRCPlayer's analytics wire format, sent byte for byte: a bare event with
``eventType`` on ``POST /api/analytics/event``, and ``{"type": "batch"|"event", "payload": ...}`` frames
on ``/ws/analytics``. Each must be stored and counted (read back through the analytics API)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.conftest import Server

# Exactly what the original player sends (JSON.stringify of its event object, in its key order); only
# MEDIA_ID is replaced by a real id of the test's account. A live duration (Infinity) is null on the wire.
ORIGINAL_POST = (
    '{"sessionId":"session_1732871234567_k2j4h5g6f","mediaId":"MEDIA_ID","eventType":"play",'
    '"currentTime":0,"duration":null,"quality":"720p","bufferDuration":0,"errorMessage":null,'
    '"metadata":{"userAgent":"Mozilla/5.0 (X11; Linux x86_64)","playerVersion":"1.0.0"}}'
)
ORIGINAL_WS_BATCH = (
    '{"type":"batch","payload":{"events":['
    '{"sessionId":"session_1732871234567_k2j4h5g6f","mediaId":"MEDIA_ID","eventType":"pause",'
    '"currentTime":12.48,"duration":null,"quality":"720p","bufferDuration":0,"errorMessage":null,'
    '"metadata":{}},'
    '{"sessionId":"session_1732871234567_k2j4h5g6f","mediaId":"MEDIA_ID","eventType":"buffer",'
    '"currentTime":12.48,"duration":null,"quality":"480p","bufferDuration":1.75,"errorMessage":null,'
    '"metadata":null},'
    '{"sessionId":"session_1732871234567_k2j4h5g6f","mediaId":"MEDIA_ID","eventType":"quality_change",'
    '"currentTime":14.2,"duration":null,"quality":"1080p","bufferDuration":0,"errorMessage":null,'
    '"metadata":{"from":"480p","to":"1080p"}}'
    "]}}"
)
ORIGINAL_WS_EVENT = (
    '{"type":"event","payload":{"sessionId":"session_1732871234567_k2j4h5g6f","mediaId":"MEDIA_ID",'
    '"eventType":"error","currentTime":20.01,"duration":null,"quality":"1080p","bufferDuration":0,'
    '"errorMessage":"MEDIA_ERR_NETWORK: segment request failed","metadata":{"code":2}}}'
)


def ws_url(server: Server) -> str:
    return server.url.replace("http://", "ws://") + "/ws/analytics"


@pytest.fixture
def live_id(server: Server) -> tuple[str, str]:
    """A fresh live item of a fresh account: (its id, the account's read key)."""
    write, read = server.account_keys()
    with server.client(write) as client:
        created = client.post("/api/v1/live", json={"title": "original player"})
    assert created.status_code == 201, created.text
    return created.json()["data"]["mediaId"], read


def counts(server: Server, key: str, media_id: str) -> dict[str, Any]:
    with server.client(key) as client:
        resp = client.get(f"/api/v1/media/{media_id}/analytics")
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()["data"]
    return data


def test_original_post_event_is_counted(server: Server, live_id: tuple[str, str]) -> None:
    media_id, read = live_id
    body = ORIGINAL_POST.replace("MEDIA_ID", media_id).encode()
    with server.client() as client:
        resp = client.post("/api/analytics/event", content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"success": True, "data": {"accepted": 1, "dropped": 0}}
    data = counts(server, read, media_id)
    assert data["eventCounts"]["play"] == 1
    assert data["views"] == 1 and data["uniqueSessions"] == 1


def test_original_websocket_frames_are_counted(server: Server, live_id: tuple[str, str]) -> None:
    media_id, read = live_id
    with connect(ws_url(server), open_timeout=10) as ws:
        ws.send(ORIGINAL_WS_BATCH.replace("MEDIA_ID", media_id))
        assert json.loads(ws.recv(timeout=10)) == {
            "success": True,
            "accepted": 3,
            "dropped": 0,
            "message": None,
            "errors": [],
        }
        ws.send(ORIGINAL_WS_EVENT.replace("MEDIA_ID", media_id))
        assert json.loads(ws.recv(timeout=10))["accepted"] == 1
    data = counts(server, read, media_id)
    assert {k: v for k, v in data["eventCounts"].items() if v} == {
        "pause": 1,
        "buffer": 1,
        "quality_change": 1,
        "error": 1,
    }
    assert data["uniqueSessions"] == 1


def test_original_fields_are_kept(server: Server, live_id: tuple[str, str]) -> None:
    """``bufferDuration``, ``errorMessage`` and ``metadata`` end up in the stored event's data."""
    from sqlalchemy import select

    from vsrc.db.models import AnalyticsEvent

    media_id, _ = live_id
    with connect(ws_url(server), open_timeout=10) as ws:
        ws.send(ORIGINAL_WS_BATCH.replace("MEDIA_ID", media_id))
        ws.recv(timeout=10)
        ws.send(ORIGINAL_WS_EVENT.replace("MEDIA_ID", media_id))
        ws.recv(timeout=10)
    with server.sessions() as session:
        rows = session.scalars(
            select(AnalyticsEvent)
            .where(AnalyticsEvent.media_public_id == media_id)
            .order_by(AnalyticsEvent.id)
        ).all()
        stored = [(r.event, r.quality, r.duration, r.data) for r in rows]
    assert stored == [
        ("pause", "720p", None, {}),
        ("buffer", "480p", None, {"bufferDuration": 1.75}),
        ("quality_change", "1080p", None, {"from": "480p", "to": "1080p"}),
        ("error", "1080p", None, {"code": 2, "errorMessage": "MEDIA_ERR_NETWORK: segment request failed"}),
    ]


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ('{"type":"batch","payload":{}}', "payload"),
        ('{"type":"batch","payload":[]}', "payload"),
        ('{"type":"event","payload":"play"}', "payload"),
        ('{"type":"batch","payload":{"events":[]}}', "events"),
    ],
)
def test_malformed_original_envelopes_are_400(server: Server, frame: str, field: str) -> None:
    with server.client() as client:
        resp = client.post("/api/analytics/event", content=frame.encode())
    assert resp.status_code == 400, resp.text
    assert resp.json()["errors"][0]["field"] == field


def test_event_names_that_disagree_are_refused(server: Server, live_id: tuple[str, str]) -> None:
    media_id, _ = live_id
    body = ORIGINAL_POST.replace("MEDIA_ID", media_id).replace(
        '"eventType":"play"', '"event":"pause","eventType":"play"'
    )
    with server.client() as client:
        resp = client.post("/api/analytics/event", content=body.encode())
    assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "event"
