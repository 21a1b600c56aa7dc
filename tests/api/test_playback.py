"""Public delivery: resolve, MIME types, Range, caching, CORS, 404s and path traversal."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.conftest import Server

VOD = "vod_11111111-2222-4333-8444-555555555555"


@pytest.fixture(scope="module")
def stored(server: Server) -> Path:
    """A fake encoded output laid out as the encoder writes it (delivery is file serving)."""
    root = server.settings.storage_root / "hls" / VOD
    (root / "360p").mkdir(parents=True)
    (root / "master.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n360p/index.m3u8\n")
    (root / "360p" / "index.m3u8").write_text("#EXTM3U\n#EXTINF:4,\nseg_00000.ts\n")
    (root / "360p" / "seg_00000.ts").write_bytes(bytes(range(256)) * 8)
    thumbs = server.settings.storage_root / "thumbnails" / VOD
    thumbs.mkdir(parents=True)
    (thumbs / "poster.jpg").write_bytes(b"\xff\xd8poster")
    (thumbs / "storyboard.vtt").write_text("WEBVTT\n")
    (server.settings.storage_root / "secret.txt").write_text("do not serve")
    return root


def test_mime_types_and_cache_headers(server: Server, stored: Path) -> None:
    with server.client() as client:
        master = client.get(f"/hls/{VOD}/master.m3u8")
        assert master.status_code == 200
        assert master.headers["content-type"] == "application/vnd.apple.mpegurl"
        assert "max-age=1" in master.headers["cache-control"]
        seg = client.get(f"/hls/{VOD}/360p/seg_00000.ts")
        assert seg.headers["content-type"] == "video/mp2t"
        assert "immutable" in seg.headers["cache-control"]
        assert seg.content == bytes(range(256)) * 8
        assert client.get(f"/thumbnails/{VOD}/poster.jpg").headers["content-type"] == "image/jpeg"
        assert client.get(f"/thumbnails/{VOD}/storyboard.vtt").headers["content-type"].startswith("text/vtt")
        assert client.head(f"/hls/{VOD}/master.m3u8").status_code == 200


def test_range_requests(server: Server, stored: Path) -> None:
    with server.client() as client:
        part = client.get(f"/hls/{VOD}/360p/seg_00000.ts", headers={"Range": "bytes=10-19"})
        assert part.status_code == 206
        assert part.content == bytes(range(10, 20))
        assert part.headers["content-range"] == "bytes 10-19/2048"
        tail = client.get(f"/hls/{VOD}/360p/seg_00000.ts", headers={"Range": "bytes=-4"})
        assert tail.status_code == 206 and tail.content == bytes(range(252, 256))
        bad = client.get(f"/hls/{VOD}/360p/seg_00000.ts", headers={"Range": "bytes=5000-6000"})
        assert bad.status_code == 416


def test_cors_for_other_origins(server: Server, stored: Path) -> None:
    with server.client() as client:
        resp = client.get(f"/hls/{VOD}/master.m3u8", headers={"Origin": "https://customer.example"})
        assert resp.headers["access-control-allow-origin"] == "*"
        pre = client.options(
            f"/hls/{VOD}/360p/seg_00000.ts",
            headers={
                "Origin": "https://customer.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "range",
            },
        )
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "*"


def test_resolve(server: Server, stored: Path) -> None:
    write, _ = server.account_keys()
    with server.client(write) as client:
        live_id = client.post("/api/v1/live", json={"title": "l"}).json()["data"]["mediaId"]
    with server.client() as client:
        assert client.get(f"/hls/resolve/{live_id}").json() == {
            "ul": f"http://localhost:8000/hls/{live_id}/master.m3u8"
        }
        for unknown in (VOD, "vod_nope", "../etc", "live_00000000-0000-4000-8000-000000000000"):
            resp = client.get(f"/hls/resolve/{unknown}")
            assert resp.status_code == 404
            assert resp.json()["success"] is False


@pytest.mark.parametrize(
    "path",
    [
        f"/hls/{VOD}/../../secret.txt",
        f"/hls/{VOD}/%2e%2e/%2e%2e/secret.txt",
        f"/hls/{VOD}/..%2f..%2fsecret.txt",
        f"/hls/{VOD}/360p/../../../secret.txt",
        f"/hls/{VOD}/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/hls/../secret.txt",
        f"/hls/{VOD}/missing.m3u8",
        f"/hls/{VOD}/360p/seg_00009.ts",
        f"/hls/{VOD}/360p",
        "/hls/vod_22222222-2222-4222-8222-222222222222/master.m3u8",
        f"/thumbnails/{VOD}/../../hls/{VOD}/master.m3u8",
        f"/hls/{VOD}/.hidden.m3u8",
    ],
)
def test_traversal_and_missing_files_are_404(server: Server, stored: Path, path: str) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    # A raw socket, so that no client normalises the '..' away before the server sees it.
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status = int(reply.split(b" ", 2)[1])
    assert status == 404, (path, reply[:200])
    assert b"do not serve" not in reply
