"""Viewer delivery on both storage backends (local files and S3 through a real S3 protocol server):
bytes, types, Range, HEAD, traversal, and the delivery cache's correctness — growing playlists are
re-read, deletes and policy changes take effect (at once in this process, within the TTL from another).
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text, update

from tests.api.test_signed_playback import refused
from tests.conftest import Server, start_server, stop_server
from tests.helpers import eventually
from vsrc.db.models import LiveStream
from vsrc.db.session import transaction
from vsrc.services import delivery, signing_keys
from vsrc.services.keys import get_or_create_account
from vsrc.services.live import create_live
from vsrc.services.media import purge_files
from vsrc.services.tokens import load_private_key, sign_token
from vsrc.storage import Storage, open_storage

VOD = "vod_11111111-2222-4333-8444-555555555555"
MASTER = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n360p/index.m3u8\n"
EVENT = b"#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:4,\nseg_00000.ts\n"
SEGMENT = bytes(range(256)) * 8
BIG = bytes(range(251)) * 400  # 100,400 bytes: streamed when the test lowers the cache's file limit


@pytest.fixture
def srv(tmp_path_factory: pytest.TempPathFactory, storage_url: str | None) -> Iterator[Server]:
    extra = {"storage_url": storage_url} if storage_url else {}
    # A TTL long enough that "within the TTL" is observable, short enough for the tests to wait it out.
    server = start_server(tmp_path_factory.mktemp("data"), delivery_cache_seconds=0.5, **extra)
    yield server
    stop_server(server)


def other_process(server: Server) -> Storage:
    """The same storage as another API process would open it: its changes notify nobody here."""
    return open_storage(server.settings.storage_location, scratch=server.settings.scratch_dir)


def lay_out(storage: Storage, media_id: str) -> None:
    storage.put_bytes(f"hls/{media_id}/master.m3u8", MASTER)
    storage.put_bytes(f"hls/{media_id}/360p/index.m3u8", EVENT)
    storage.put_bytes(f"hls/{media_id}/360p/seg_00000.ts", SEGMENT)
    storage.put_bytes(f"hls/{media_id}/360p/big.m4s", BIG)
    storage.put_bytes(f"thumbnails/{media_id}/poster.jpg", b"\xff\xd8poster")


def raw_status(server: Server, path: str) -> tuple[int, bytes]:
    host, port = server.url.removeprefix("http://").split(":")
    # A raw socket, so that no client normalises the '..' away before the server sees it.
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return int(reply.split(b" ", 2)[1]), reply


@pytest.mark.parametrize("streamed", [False, True], ids=["cached", "streamed"])
def test_bytes_types_ranges_and_heads(srv: Server, streamed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if streamed:  # files over the limit are streamed from storage in chunks, never held in memory
        monkeypatch.setattr(delivery, "MAX_CACHED_FILE", 1000)
    lay_out(srv.runtime.storage, VOD)
    seg = f"/hls/{VOD}/360p/seg_00000.ts"
    with srv.client() as client:
        master = client.get(f"/hls/{VOD}/master.m3u8")
        assert master.status_code == 200 and master.content == MASTER
        assert master.headers["content-type"] == "application/vnd.apple.mpegurl"
        assert master.headers["cache-control"] == "public, max-age=1"
        full = client.get(seg, headers={"Origin": "https://customer.example"})
        assert full.status_code == 200 and full.content == SEGMENT
        assert full.headers["content-type"] == "video/mp2t"
        assert "immutable" in full.headers["cache-control"]
        assert full.headers["access-control-allow-origin"] == "*"
        assert full.headers["accept-ranges"] == "bytes"
        head = client.head(seg)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(SEGMENT))
        part = client.get(seg, headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == SEGMENT[10:20]
        assert part.headers["content-range"] == "bytes 10-19/2048"
        assert client.get(seg, headers={"Range": "bytes=-4"}).content == SEGMENT[-4:]
        assert client.get(seg, headers={"Range": "bytes=2040-"}).content == SEGMENT[2040:]
        assert client.get(seg, headers={"Range": "bytes=2000-9999"}).content == SEGMENT[2000:]
        bad = client.get(seg, headers={"Range": "bytes=5000-6000"})
        assert bad.status_code == 416 and bad.headers["content-range"] == "bytes */2048"
        # Several ranges (or another unit) are answered with the whole file, as RFC 9110 allows.
        assert client.get(seg, headers={"Range": "bytes=0-1,5-6"}).content == SEGMENT
        big = client.get(f"/hls/{VOD}/360p/big.m4s", headers={"Range": "bytes=1000-99999"})
        assert big.status_code == 206 and big.content == BIG[1000:100000]
        assert client.get(f"/hls/{VOD}/360p/big.m4s").content == BIG
        poster = client.get(f"/thumbnails/{VOD}/poster.jpg")
        assert poster.content == b"\xff\xd8poster" and poster.headers["content-type"] == "image/jpeg"
        assert client.get(f"/hls/{VOD}/360p/seg_00009.ts").status_code == 404
        too_long = client.get(f"/hls/{VOD}/master.m3u8", params={"token": "x" * 20000})
        assert too_long.status_code == 400 and too_long.json()["errors"][0]["field"] == "token"
        assert client.get(f"/hls/{VOD}/360p").status_code == 404
    srv.runtime.storage.put_bytes("secret.txt", b"do not serve")
    for path in (
        f"/hls/{VOD}/../../secret.txt",
        f"/hls/{VOD}/%2e%2e/%2e%2e/secret.txt",
        "/hls/../secret.txt",
    ):
        status, reply = raw_status(srv, path)
        assert status == 404 and b"do not serve" not in reply, path


def test_growing_playlists_are_reread_and_deletes_stop_delivery(srv: Server) -> None:
    storage = srv.runtime.storage
    lay_out(storage, VOD)
    variant = f"/hls/{VOD}/360p/index.m3u8"
    seg = f"/hls/{VOD}/360p/seg_00000.ts"
    with srv.client() as client:
        assert client.get(variant).content == EVENT
        # An encode or live stream adds a segment: the very next request sees it (no TTL wait).
        grown = EVENT + b"#EXTINF:4,\nseg_00001.ts\n"
        storage.put_bytes(f"hls/{VOD}/360p/index.m3u8", grown)
        assert client.get(variant).content == grown
        finished = grown + b"#EXT-X-ENDLIST\n"
        storage.put_bytes(f"hls/{VOD}/360p/index.m3u8", finished)
        assert client.get(variant).content == finished
        assert client.get(seg).status_code == 200
        # Deleted by this process: gone at once.
        purge_files(storage, VOD)
        assert client.get(seg).status_code == 404
        assert client.get(variant).status_code == 404
        # Deleted by another API process: gone within the cache TTL.
        lay_out(storage, VOD)
        assert client.get(seg).status_code == 200
        other_process(srv).delete_prefix(f"hls/{VOD}")
        eventually(lambda: client.get(seg).status_code == 404, timeout=30, what="a delete elsewhere")


def signed_live(server: Server) -> tuple[str, str]:
    """A signed live stream and a token for it, made through the services (the rows are what delivery
    reads; the management API has its own tests)."""
    with transaction(server.sessions) as session:
        account_id = get_or_create_account(session, email=f"{uuid.uuid4().hex[:10]}@test").id
        stream = create_live(
            session,
            account_id=account_id,
            title="show",
            description=None,
            region=None,
            server_id=None,
            storage=server.runtime.storage,  # writes the signed marker
            playback_policy="signed",
        )
        live_id = stream.public_id
        private_pem = signing_keys.create_key(session, account_id=account_id).private_pem
    token = sign_token(load_private_key(private_pem)[0], media_id=live_id, expires_in=600)
    return live_id, token


def test_signed_items_and_policy_changes_made_elsewhere(srv: Server) -> None:
    live_id, token = signed_live(srv)
    lay_out(srv.runtime.storage, live_id)
    master, seg = f"/hls/{live_id}/master.m3u8", f"/hls/{live_id}/360p/seg_00000.ts"
    with srv.client() as client:
        denied = client.get(master, headers={"Origin": "https://customer.example"})
        refused(denied, "token is required")
        assert denied.headers["access-control-allow-origin"] == "*"  # a player elsewhere reads why
        refused(client.get(f"/hls/resolve/{live_id}"), "token is required")
        # A signed item does not tell which files exist.
        refused(client.get(f"/hls/{live_id}/missing.m3u8"), "token is required")
        signed = client.get(master, params={"token": token})
        assert signed.status_code == 200 and f"360p/index.m3u8?token={token}" in signed.text
        assert signed.headers["cache-control"] == "private, max-age=1"
        ranged = client.get(seg, params={"token": token}, headers={"Range": "bytes=10-19"})
        assert ranged.status_code == 206 and ranged.content == SEGMENT[10:20]
        assert ranged.headers["cache-control"].startswith("private")
        resolved = client.get(f"/hls/resolve/{live_id}", params={"token": token})
        assert resolved.json()["ul"].endswith(f"/hls/{live_id}/master.m3u8?token={token}")
        assert resolved.headers["cache-control"] == "private, no-store"
        assert client.get(master, params={"token": "x" * 20000}).status_code == 400
        # Another process makes the item public (row first, then the marker), then signed again.
        with transaction(srv.sessions) as session:
            session.execute(
                update(LiveStream).where(LiveStream.public_id == live_id).values(playback_policy="public")
            )
        other_process(srv).delete_prefix(f"signed/{live_id}")
        eventually(lambda: client.get(seg).status_code == 200, timeout=30, what="public elsewhere")
        eventually(lambda: client.get(f"/hls/resolve/{live_id}").status_code == 200, timeout=30)
        assert client.get(seg).headers["cache-control"] == "public, max-age=31536000, immutable"
        other_process(srv).put_bytes(f"signed/{live_id}", b"")
        eventually(lambda: client.get(seg).status_code == 403, timeout=30, what="signed elsewhere")
        assert client.get(seg, params={"token": token}).content == SEGMENT


def test_other_methods_still_reach_the_app(srv: Server) -> None:
    lay_out(srv.runtime.storage, VOD)
    with srv.client() as client:
        pre = client.options(
            f"/hls/{VOD}/360p/seg_00000.ts",
            headers={"Origin": "https://customer.example", "Access-Control-Request-Method": "GET"},
        )
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "*"
        post = client.post(f"/hls/{VOD}/master.m3u8")
        assert post.status_code == 405 and "GET" in post.headers["allow"]
        assert isinstance(client.get("/health"), httpx.Response)


def test_an_unexpected_failure_is_an_envelope(srv: Server) -> None:
    """A failure that is no VsrcError (here the database: its table is gone) answers a 500 error
    envelope, readable cross-origin, as the rest of the API does — not the server's bare text 500."""
    with srv.sessions() as session, session.begin():
        session.execute(text("ALTER TABLE media RENAME TO media_gone"))
    try:
        with srv.client() as client:
            answer = client.get(f"/hls/resolve/{VOD}", headers={"Origin": "https://customer.example"})
        assert answer.status_code == 500
        assert answer.json() == {"success": False, "message": "Internal server error"}
        assert answer.headers["access-control-allow-origin"] == "*"
    finally:
        with srv.sessions() as session, session.begin():
            session.execute(text("ALTER TABLE media_gone RENAME TO media"))


def test_a_trailing_newline_is_no_part_of_an_id_or_name(srv: Server) -> None:
    """``$`` matches before a final newline: ``vod_…%0A`` or ``360p%0A`` must be refused like any
    other bad name, without reaching storage (whose message would name the key)."""
    lay_out(srv.runtime.storage, VOD)
    for path in (
        f"/hls/{VOD}%0A/360p/seg_00000.ts",
        f"/hls/{VOD}/360p%0A/seg_00000.ts",
        f"/thumbnails/{VOD}%0A/poster.jpg",
        f"/hls/resolve/{VOD}%0A",
    ):
        status, reply = raw_status(srv, path)
        assert status == 404, path
        assert reply.endswith((b'"message":"Not found"}', b'"message":"Media not found"}')), path
        assert b"stored object" not in reply, path


def test_clients_revalidate_with_etags(srv: Server) -> None:
    """Players and caches revalidate playlists (max-age=1) with If-None-Match: an unchanged file is a
    304 without a body, a changed one a 200 with a new validator."""
    storage = srv.runtime.storage
    lay_out(storage, VOD)
    variant = f"/hls/{VOD}/360p/index.m3u8"
    seg = f"/hls/{VOD}/360p/seg_00000.ts"
    with srv.client() as client:
        for path in (variant, seg, f"/thumbnails/{VOD}/poster.jpg"):
            first = client.get(path)
            etag = first.headers["etag"]
            again = client.get(path, headers={"If-None-Match": etag})
            assert again.status_code == 304 and again.content == b"", path
            assert again.headers["etag"] == etag and again.headers["cache-control"]
            assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
        etag = client.get(variant).headers["etag"]
        storage.put_bytes(f"hls/{VOD}/360p/index.m3u8", EVENT + b"#EXTINF:4,\nseg_00001.ts\n")
        grown = client.get(variant, headers={"If-None-Match": etag})
        assert grown.status_code == 200 and grown.headers["etag"] != etag
        assert grown.content.endswith(b"seg_00001.ts\n")
