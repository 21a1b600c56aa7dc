"""Live-stream management beyond the seed: list, get, reset-key, delete, rtmp-servers, and the
nginx-rtmp compatible hooks (HTTP only here; tests/live/test_nginx_rtmp.py drives a real nginx)."""

from __future__ import annotations

import pytest

from tests.conftest import Server

LIVE_FIELDS = {
    "mediaId",
    "title",
    "description",
    "status",
    "streamKey",
    "rtmpUrl",
    "streamUrl",
    "expiresAt",
    "playbackPolicy",
    "expired",
    "serverId",
    "region",
    "sessionStartedAt",
    "playbackUrl",
    "createdAt",
    "updatedAt",
    "recordings",
}


def create(server: Server, key: str, title: str = "Show") -> dict:
    with server.client(key) as client:
        return dict(client.post("/api/v1/live", json={"title": title}).json()["data"])


def test_list_get_reset_delete(server: Server) -> None:
    write, read = server.account_keys()
    first, second = create(server, write, "one"), create(server, write, "two")
    with server.client(read) as client:
        listing = client.get("/api/v1/live", params={"limit": 1}).json()["data"]
        assert listing["pagination"] == {"page": 1, "limit": 1, "total": 2, "totalPages": 2}
        assert listing["live"][0]["mediaId"] == second["mediaId"]
        detail = client.get(f"/api/v1/live/{first['mediaId']}").json()["data"]
        assert set(detail) == LIVE_FIELDS
        assert detail["status"] == "idle" and detail["expired"] is False and detail["recordings"] == []
        assert detail["region"] == "default"
        # A read key (the kind that ends up in front-ends) never sees the publishing credential.
        assert detail["streamKey"] is None and detail["streamUrl"] is None
        assert detail["playbackUrl"] == f"http://localhost:8000/hls/{first['mediaId']}/master.m3u8"
        assert client.post(f"/api/v1/live/{first['mediaId']}/reset-key").status_code == 403
    with server.client(write) as client:
        own = client.get(f"/api/v1/live/{first['mediaId']}").json()["data"]
        assert own["streamKey"] == first["streamKey"] and own["streamUrl"] == first["streamUrl"]
        reset = client.post(f"/api/v1/live/{first['mediaId']}/reset-key")
        assert reset.status_code == 200
        assert reset.json()["data"]["streamKey"] != first["streamKey"]
        gone = client.delete(f"/api/v1/live/{first['mediaId']}")
        assert gone.json() == {
            "success": True,
            "message": "Live stream deleted successfully",
            "data": {"mediaId": first["mediaId"]},
        }
        assert client.get(f"/api/v1/live/{first['mediaId']}").status_code == 404
        assert client.get("/api/v1/live/live_bad!").status_code in (400, 404)
        assert client.get("/api/v1/live/vod_00000000-0000-4000-8000-000000000000").status_code == 400


def test_other_account_cannot_touch_a_live_stream(server: Server) -> None:
    write, _ = server.account_keys()
    other, _ = server.account_keys()
    live = create(server, write)
    with server.client(other) as client:
        assert client.get(f"/api/v1/live/{live['mediaId']}").status_code == 404
        assert client.post(f"/api/v1/live/{live['mediaId']}/reset-key").status_code == 404
        assert client.delete(f"/api/v1/live/{live['mediaId']}").status_code == 404
        assert client.get("/api/v1/live").json()["data"]["pagination"]["total"] == 0


def test_rtmp_servers_listing(server: Server) -> None:
    _, read = server.account_keys()
    with server.client(read) as client:
        servers = client.get("/api/v1/rtmp-servers").json()["data"]
    default = servers[0]
    assert set(default) == {"id", "name", "region", "rtmpUrl", "status", "lastHeartbeatAt", "activeStreams"}
    assert default["rtmpUrl"] == "rtmp://localhost:1935/live" and default["status"] == "online"


def hook(server: Server, name: str, event: str = "on_publish", app: str = "live") -> int:
    with server.client() as client:
        resp = client.post(
            f"/hooks/rtmp/{event}",
            data={"name": name, "app": app, "addr": "10.0.0.1", "call": event.removeprefix("on_")},
        )
    return resp.status_code


def test_nginx_hooks_allow_deny_and_busy(server: Server) -> None:
    write, _ = server.account_keys()
    live = create(server, write)
    key = live["streamKey"]
    assert hook(server, "1_" + "f" * 32) == 403
    assert hook(server, key, app="other") == 403
    assert hook(server, key) == 200
    assert hook(server, key) == 403  # already publishing
    with server.client(write) as client:
        assert client.get(f"/api/v1/live/{live['mediaId']}").json()["data"]["status"] == "live"
    assert hook(server, key, "on_publish_done") == 200
    with server.client(write) as client:
        assert client.get(f"/api/v1/live/{live['mediaId']}").json()["data"]["status"] == "ended"
    assert hook(server, key) == 200  # may publish again while the key is valid
    with server.client() as client:
        assert client.post("/hooks/rtmp/on_publish", data={"app": "live"}).status_code == 400


@pytest.mark.parametrize("secret", [None, "wrong"])
def test_hook_secret(tmp_path, secret: str | None) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import start_server, stop_server

    srv = start_server(tmp_path / "data", hook_secret="s3cret")
    try:
        write, _ = srv.account_keys()
        key = create(srv, write)["streamKey"]
        params = {"secret": secret} if secret else {}
        with srv.client() as client:
            denied = client.post("/hooks/rtmp/on_publish", params=params, data={"name": key, "app": "live"})
            allowed = client.post(
                "/hooks/rtmp/on_publish", params={"secret": "s3cret"}, data={"name": key, "app": "live"}
            )
        assert denied.status_code == 401 and allowed.status_code == 200
    finally:
        stop_server(srv)
