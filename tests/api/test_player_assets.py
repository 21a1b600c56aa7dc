"""The player bundle and the iframe embed page are served publicly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Server

BUNDLE = Path(__file__).resolve().parents[2] / "player" / "dist" / "vsrc-player.js"


@pytest.mark.skipif(not BUNDLE.exists(), reason="player not built (make test builds it)")
def test_player_bundle_served(server: Server) -> None:
    with server.client() as client:
        resp = client.get("/player/dist/vsrc-player.js")
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/javascript")
        assert b"VSRCPlayer" in resp.content
        assert client.get("/player/dist/vsrc-player.css").status_code == 200
        assert client.get("/player/dist/../../README.md").status_code == 404
        assert client.get("/player/dist/other.js").status_code == 404


def test_embed_page(server: Server) -> None:
    write, _ = server.account_keys()
    with server.client(write) as client:
        live_id = client.post("/api/v1/live", json={"title": "l"}).json()["data"]["mediaId"]
        page = client.get(f"/embed/{live_id}")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<script src="http://localhost:8000/player/dist/vsrc-player.js"></script>' in page.text
        assert f"mediaId: '{live_id}'" in page.text and "type: 'live'" in page.text
        assert client.get("/embed/vod_00000000-0000-4000-8000-000000000000").status_code == 404
        assert client.get("/embed/<script>").status_code == 404
