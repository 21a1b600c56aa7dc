"""Signed delivery pays only the token check: once a viewer's token passed, its signing key, the item's
account and the files are cached, a signed request is answered on the event loop like a public one
(no thread hop), and every check that makes the token mean something still runs on every request.

Thread hops are counted by wrapping ``anyio.to_thread.run_sync`` (every hop of delivery goes through
it) and keeping those made by delivery's own modules; the caches' TTLs are long so that no entry
expires between the warm-up and the counted requests, whatever the machine's load.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import anyio.to_thread
import pytest

from tests.api.test_signed_playback import SEGMENT, Signed, create_key, lay_out, refused
from tests.conftest import Server, start_server, stop_server, upload_file
from vsrc.api import delivery
from vsrc.api.deps import AppState
from vsrc.errors import TokenRefused
from vsrc.services import tokens
from vsrc.services.delivery import token_query
from vsrc.services.playback import find_item, with_token
from vsrc.services.tokens import TokenVerifier, load_private_key, sign_token

DELIVERY_MODULES = ("vsrc.api.delivery", "vsrc.services.delivery", "vsrc.services.tokens")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("data"), delivery_cache_seconds=60, signing_key_cache_seconds=300
    )
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def signed(srv: Server, clips: dict[str, Path]) -> Signed:
    write, read = srv.account_keys()
    media_id = upload_file(srv, write, clips["mp4"], playbackPolicy="signed")
    lay_out(srv, media_id)
    key = create_key(srv, write)
    private_key, key_id = load_private_key(key["privateKey"])
    return Signed(write, read, media_id, key_id, private_key)


class Hops:
    """Thread hops made by delivery (its lambdas, its cache, the token checks) while installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        original = anyio.to_thread.run_sync

        async def run_sync(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            if getattr(func, "__module__", "").startswith(DELIVERY_MODULES):
                self.calls.append(getattr(func, "__qualname__", repr(func)))
            return await original(func, *args, **kwargs)

        monkeypatch.setattr(anyio.to_thread, "run_sync", run_sync)


def state_of(server: Server) -> AppState:
    state: AppState = server.server.config.app.state.vsrc
    return state


def test_a_seen_token_is_checked_on_the_event_loop(
    srv: Server, signed: Signed, clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = signed.token(["v", "t"])
    media = signed.media_id
    paths = [
        f"/hls/resolve/{media}",
        f"/hls/{media}/master.m3u8",
        f"/hls/{media}/360p/index.m3u8",
        f"/hls/{media}/360p/seg_00000.ts",
        f"/thumbnails/{media}/poster.jpg",
    ]
    with srv.client() as client:
        for path in paths:  # the first request of each reads the key, the account, the row and the file
            assert client.get(path, params={"token": token}).status_code == 200, path
        hops = Hops(monkeypatch)
        for path in paths:
            again = client.get(path, params={"token": token})
            assert again.status_code == 200, path
            assert "private" in again.headers["cache-control"]
        ranged = client.get(paths[3], params={"token": token}, headers={"Range": "bytes=10-19"})
        assert ranged.status_code == 206 and ranged.content == SEGMENT[10:20]
        # A new token of a cached key is verified in full (RSA) on the loop as well.
        fresh = signed.token("v", expires_in=600)
        assert client.get(paths[3], params={"token": fresh}).content == SEGMENT
        assert hops.calls == []

        # What the token says is still checked on every request, from memory.
        refused(client.get(paths[4], params={"token": fresh}), "aud does not allow 't'")
        write, _ = srv.account_keys()
        other = upload_file(srv, write, clips["mp4"], playbackPolicy="signed")
        lay_out(srv, other)
        assert client.get(f"/hls/{other}/360p/seg_00000.ts", params={"token": token}).status_code == 403
        refused(client.get(f"/hls/resolve/{other}", params={"token": token}), "unknown signing key")
        verifier = state_of(srv).guard.verifier
        monkeypatch.setattr(verifier, "_wall_clock", lambda: time.time() + 7200)
        for path in paths:
            refused(client.get(path, params={"token": token}), "expired")
        monkeypatch.setattr(verifier, "_wall_clock", time.time)
        assert client.get(paths[3], params={"token": token}).status_code == 200

        # Revoked here: the key is read again (in a thread) and refused at once.
        hops.calls.clear()
        with srv.client(signed.write) as writer:
            assert writer.delete(f"/api/v1/signing-keys/{signed.key_id}").status_code == 200
        for path in paths:
            refused(client.get(path, params={"token": token}), "revoked")
        assert hops.calls, "the revoked key was never read again"


def test_a_cached_key_is_read_again_after_its_ttl(srv: Server, clips: dict[str, Path]) -> None:
    """The check from memory answers only while the key's cache entry is younger than the TTL;
    after that it asks for the database, which then says the key was revoked elsewhere."""
    write, _ = srv.account_keys()
    media_id = upload_file(srv, write, clips["mp4"], playbackPolicy="signed")
    key = create_key(srv, write)
    token = sign_token(load_private_key(key["privateKey"])[0], media_id=media_id, expires_in=600)
    now = [0.0]
    other_process = TokenVerifier(srv.sessions, ttl=10, clock=lambda: now[0])
    with srv.sessions() as session:
        account_id = find_item(session, public_id=media_id).account_id
    check = {"media_id": media_id, "account_id": account_id, "audience": "v"}
    assert other_process.verify_cached(token, **check) is False  # nothing cached yet
    other_process.verify(token, **check)
    assert other_process.verify_cached(token, **check) is True
    with srv.client(write) as writer:
        assert writer.delete(f"/api/v1/signing-keys/{key['keyId']}").status_code == 200
    now[0] = 9.9
    assert other_process.verify_cached(token, **check) is True  # trusted from the cache, as documented
    now[0] = 10.0
    assert other_process.verify_cached(token, **check) is False
    with pytest.raises(TokenRefused, match="revoked"):
        other_process.verify(token, **check)
    with pytest.raises(TokenRefused, match="revoked"):
        other_process.verify_cached(token, **check)  # cached again, as revoked
    with pytest.raises(TokenRefused, match="token is required"):
        other_process.verify_cached(None, **check)


@pytest.mark.parametrize(
    "query",
    [
        b"token=aaa.bbb-ccc_ddd",
        b"a=1&token=x.y.z&b=2",
        b"token=first&token=second",
        b"token=first&token=",
        b"token=&a=1",
        b"token",
        b"&&token=a+b%20c&",
        b"tok%65n=escaped&token=plain",
        b"token=plain&tok%65n=escaped",
        b"token=%C3%A9%ZZ%",
        b"token=caf\xc3\xa9",
        b"xtoken=no&token_=no",
        b"t+oken=no&token=a%26b%3Dc",
    ],
)
def test_the_token_is_read_from_the_query_as_parse_qsl_reads_it(query: bytes) -> None:
    expected = dict(parse_qsl(query.decode("latin-1"))).get("token")
    assert delivery._query_value(query, b"token") == expected


def test_a_token_is_quoted_as_the_playlists_and_resolve_quote_it() -> None:
    for token in ("eyJh.eyJz.c2ln-_~", "a b", "a/b?c=d&e#f", "é", "%41", ""):
        assert token_query(token) == "token=" + quote(token, safe="")
        assert with_token("http://x/m.m3u8", token or None) == "http://x/m.m3u8" + (
            f"?{token_query(token)}" if token else ""
        )


def test_tokens_in_use_stay_remembered(
    srv: Server, clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The remembered tokens are bounded least-recently-used: a viewer's token that keeps being used
    is not verified again (RSA) because newer viewers came."""
    monkeypatch.setattr(tokens, "_CACHE_SIZE", 3)
    decoded: list[str] = []
    real_decode = tokens.jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(tokens.jwt, "decode", counting)
    write, _ = srv.account_keys()
    media_id = upload_file(srv, write, clips["mp4"], playbackPolicy="signed")
    private_key = load_private_key(create_key(srv, write)["privateKey"])[0]
    with srv.sessions() as session:
        account_id = find_item(session, public_id=media_id).account_id
    verifier = TokenVerifier(srv.sessions, ttl=60)
    check = {"media_id": media_id, "account_id": account_id, "audience": "v"}
    viewers = [sign_token(private_key, media_id=media_id, expires_in=600 + n) for n in range(5)]
    for token in viewers[:3]:
        verifier.verify(token, **check)
    decoded.clear()
    for token in viewers[3:]:
        verifier.verify(viewers[0], **check)  # the first viewer keeps watching
        verifier.verify(token, **check)
    verifier.verify(viewers[0], **check)
    assert decoded == viewers[3:]  # only the new viewers' tokens were verified
