"""The player bundle and the iframe embed page are served publicly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Server
from tests.helpers import raw_get

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "player" / "dist" / "vsrc-player.js"


@pytest.mark.skipif(not BUNDLE.exists(), reason="player not built (make test builds it)")
def test_player_bundle_served(server: Server) -> None:
    with server.client() as client:
        resp = client.get("/player/dist/vsrc-player.js")
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/javascript")
        assert b"VSRCPlayer" in resp.content
        assert client.get("/player/dist/vsrc-player.css").status_code == 200
        assert client.get("/player/dist/other.js").status_code == 404


@pytest.mark.parametrize(
    "target",
    [
        "/player/dist/../../README.md",
        "/player/dist/../../pyproject.toml",
        "/player/dist/..%2f..%2fREADME.md",
        "/player/dist/%2e%2e/%2e%2e/README.md",
        "/player/dist/%2e%2e%2f%2e%2e%2fpyproject.toml",
        "/player/dist/..%5c..%5cREADME.md",
        "/player/dist/./../../README.md",
        "/player/../README.md",
    ],
)
def test_player_path_traversal_is_404(server: Server, target: str) -> None:
    """Sent byte for byte (httpx would normalise the ``..`` away): nothing outside the bundle leaks."""
    status, body = raw_get(server.url, target)
    assert status == 404, (target, body[:200])
    for secret in ("README.md", "pyproject.toml"):
        first_line = (ROOT / secret).read_bytes().splitlines()[0]
        assert first_line not in body


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
