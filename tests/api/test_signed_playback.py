"""Signed playback through the real app: signing keys, tokens on every playback surface, the reasons
a token is refused, playlists that carry the token on, isolation and validation."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import Server, upload_file
from vsrc.errors import TokenRefused
from vsrc.services.playback import find_item
from vsrc.services.tokens import TokenVerifier, load_private_key, sign_token

MASTER = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1.42c01e"\n360p/index.m3u8\n'
VARIANT = '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:4,\nseg_00000.ts\n#EXT-X-ENDLIST\n'
SEGMENT = bytes(range(256)) * 8
VTT = "WEBVTT\n\n00:00.000 --> 00:02.000\nstoryboard.jpg#xywh=0,0,160,90\n"


def lay_out(server: Server, media_id: str) -> None:
    """Files as the encoder writes them (delivery is file serving; tests/browser plays a real encode)."""
    root = server.settings.storage_root
    hls = root / "hls" / media_id
    (hls / "360p").mkdir(parents=True)
    (hls / "master.m3u8").write_text(MASTER)
    (hls / "360p" / "index.m3u8").write_text(VARIANT)
    (hls / "360p" / "seg_00000.ts").write_bytes(SEGMENT)
    (hls / "360p" / "init.mp4").write_bytes(b"init")
    thumbs = root / "thumbnails" / media_id
    thumbs.mkdir(parents=True)
    (thumbs / "poster.jpg").write_bytes(b"\xff\xd8poster")
    (thumbs / "storyboard.vtt").write_text(VTT)
    (thumbs / "storyboard.jpg").write_bytes(b"\xff\xd8sprite")


@dataclass
class Signed:
    write: str
    read: str
    media_id: str
    key_id: str
    private_key: rsa.RSAPrivateKey

    def token(self, aud: str | list[str] = "v", media_id: str | None = None, expires_in: float = 3600) -> str:
        return sign_token(
            self.private_key, media_id=media_id or self.media_id, expires_in=expires_in, audience=aud
        )


def create_key(server: Server, write: str) -> dict:
    with server.client(write) as client:
        resp = client.post("/api/v1/signing-keys")
    assert resp.status_code == 201, resp.text
    return dict(resp.json()["data"])


@pytest.fixture(scope="module")
def signed(server: Server, clips: dict[str, Path]) -> Signed:
    write, read = server.account_keys()
    media_id = upload_file(server, write, clips["mp4"], playbackPolicy="signed")
    lay_out(server, media_id)
    key = create_key(server, write)
    private_key, key_id = load_private_key(key["privateKey"])
    assert key_id == key["keyId"]
    return Signed(write, read, media_id, key["keyId"], private_key)


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def refused(resp: httpx.Response, reason: str) -> None:
    assert resp.status_code == 403, resp.text
    body = resp.json()
    assert body["success"] is False and body["message"].startswith("Playback denied")
    assert body["errors"][0]["field"] == "token"
    assert reason in body["errors"][0]["message"], body


def test_signing_keys_create_list_revoke(server: Server) -> None:
    write, read = server.account_keys()
    other_write, _ = server.account_keys()
    key = create_key(server, write)
    assert set(key) == {"keyId", "privateKey", "createdAt"}
    assert key["keyId"].startswith("sk_") and key["createdAt"].endswith("Z")
    private = serialization.load_pem_private_key(key["privateKey"].encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey) and private.key_size == 2048
    with server.client(read) as client:
        assert client.post("/api/v1/signing-keys").status_code == 403
        listed = client.get("/api/v1/signing-keys").json()["data"]
    assert listed == [{"keyId": key["keyId"], "createdAt": key["createdAt"]}]
    # Only the public key is stored: nothing in the database can sign.
    with server.sessions() as session:
        from vsrc.db.models import SigningKey

        row = session.query(SigningKey).filter_by(key_id=key["keyId"]).one()
        assert "PRIVATE" not in row.public_key and "BEGIN PUBLIC KEY" in row.public_key
    with server.client(other_write) as client:
        assert client.get("/api/v1/signing-keys").json()["data"] == []
        assert client.delete(f"/api/v1/signing-keys/{key['keyId']}").status_code == 404
    with server.client(write) as client:
        revoked = client.delete(f"/api/v1/signing-keys/{key['keyId']}")
        assert revoked.status_code == 200 and revoked.json()["data"] == {"keyId": key["keyId"]}
        assert client.delete(f"/api/v1/signing-keys/{key['keyId']}").status_code == 404
        assert client.get("/api/v1/signing-keys").json()["data"] == []
        assert client.delete("/api/v1/signing-keys/not-a-key").status_code == 400


def test_policy_is_shown_and_validated(server: Server, signed: Signed, clips: dict[str, Path]) -> None:
    with server.client(signed.read) as client:
        assert client.get(f"/api/v1/media/{signed.media_id}").json()["data"]["playbackPolicy"] == "signed"
        listed = client.get("/api/v1/media").json()["data"]["media"]
        assert [m["playbackPolicy"] for m in listed] == ["signed"]
    before = sorted(p.name for p in (server.settings.storage_root / "media").iterdir())
    with server.client(signed.write) as client:
        bad = client.post(
            "/api/v1/media/upload",
            files={"file": ("c.mp4", clips["mp4"].read_bytes())},
            data={"title": "x", "playbackPolicy": "private"},
        )
        assert bad.status_code == 400
        assert bad.json()["errors"] == [
            {"field": "playbackPolicy", "message": "playbackPolicy must be 'public' or 'signed'"}
        ]
        live_bad = client.post("/api/v1/live", json={"title": "x", "playbackPolicy": "secret"})
        assert live_bad.status_code == 400 and live_bad.json()["errors"][0]["field"] == "playbackPolicy"
    assert sorted(p.name for p in (server.settings.storage_root / "media").iterdir()) == before


@pytest.mark.parametrize(
    ("path", "aud"),
    [
        ("/hls/{id}/master.m3u8", "v"),
        ("/hls/{id}/360p/index.m3u8", "v"),
        ("/hls/{id}/360p/seg_00000.ts", "v"),
        ("/thumbnails/{id}/poster.jpg", "t"),
        ("/thumbnails/{id}/storyboard.vtt", "s"),
        ("/thumbnails/{id}/storyboard.jpg", "s"),
        ("/embed/{id}", "v"),
        ("/hls/resolve/{id}", "v"),
    ],
)
def test_each_surface_needs_a_token(client: httpx.Client, signed: Signed, path: str, aud: str) -> None:
    url = path.format(id=signed.media_id)
    refused(client.get(url), "token is required")
    ok = client.get(url, params={"token": signed.token(aud)})
    assert ok.status_code == 200, ok.text
    assert "private" in ok.headers["cache-control"]
    wrong_aud = next(a for a in "vts" if a != aud)
    refused(client.get(url, params={"token": signed.token(wrong_aud)}), f"aud does not allow '{aud}'")
    # One token may name several audiences (what an embed with a poster needs).
    assert client.get(url, params={"token": signed.token(["v", "t", "s"])}).status_code == 200


def test_a_signed_item_does_not_tell_which_files_exist(client: httpx.Client, signed: Signed) -> None:
    refused(client.get(f"/hls/{signed.media_id}/9999p/index.m3u8"), "token is required")
    missing = client.get(f"/hls/{signed.media_id}/9999p/index.m3u8", params={"token": signed.token()})
    assert missing.status_code == 404


def test_playlists_carry_the_token_and_the_player_can_follow_them(
    server: Server, client: httpx.Client, signed: Signed
) -> None:
    token = signed.token(["v", "t", "s"])
    ul = client.get(f"/hls/resolve/{signed.media_id}", params={"token": token}).json()["ul"]
    assert ul == f"{server.settings.public_url}/hls/{signed.media_id}/master.m3u8?token={token}"
    master = client.get(f"/hls/{signed.media_id}/master.m3u8", params={"token": token})
    assert master.text == MASTER.replace("360p/index.m3u8", f"360p/index.m3u8?token={token}")
    variant_url = httpx.URL(str(master.url)).join(master.text.splitlines()[-1])
    variant = client.get(variant_url)
    assert variant.status_code == 200
    assert f'URI="init.mp4?token={token}"' in variant.text
    assert f"seg_00000.ts?token={token}" in variant.text
    segment_uri = next(line for line in variant.text.splitlines() if line.startswith("seg_"))
    segment = client.get(variant_url.join(segment_uri))
    assert segment.status_code == 200 and segment.content == SEGMENT
    assert segment.headers["content-type"] == "video/mp2t"
    ranged = client.get(variant_url.join(segment_uri), headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == SEGMENT[10:20]
    vtt = client.get(f"/thumbnails/{signed.media_id}/storyboard.vtt", params={"token": token})
    assert f"storyboard.jpg?token={token}#xywh=0,0,160,90" in vtt.text
    embed = client.get(f"/embed/{signed.media_id}", params={"token": token})
    assert f"token: '{token}'" in embed.text and embed.headers["cache-control"] == "private, no-store"


def test_bad_tokens_are_refused_with_the_reason(server: Server, client: httpx.Client, signed: Signed) -> None:
    master = f"/hls/{signed.media_id}/master.m3u8"

    def get(token: str) -> httpx.Response:
        return client.get(master, params={"token": token})

    refused(get(signed.token(expires_in=-60)), "expired")
    other_write, _ = server.account_keys()
    refused(get(signed.token(media_id="vod_00000000-0000-4000-8000-000000000000")), "another media (sub)")
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused(get(sign_token(stranger, media_id=signed.media_id, expires_in=600)), "unknown signing key")
    refused(
        get(sign_token(stranger, media_id=signed.media_id, expires_in=600, key_id=signed.key_id)), "signature"
    )
    # Another account's (valid, registered) key cannot play this account's media.
    foreign = load_private_key(create_key(server, other_write)["privateKey"])[0]
    refused(get(sign_token(foreign, media_id=signed.media_id, expires_in=600)), "unknown signing key")
    refused(get("not.a.jwt"), "malformed")
    future = int(time.time()) + 3600
    refused(
        get(sign_token(signed.private_key, media_id=signed.media_id, expires_in=7200, not_before=future)),
        "nbf",
    )
    assert get(signed.token()).status_code == 200


def test_a_revoked_key_stops_working(server: Server, client: httpx.Client, signed: Signed) -> None:
    key = create_key(server, signed.write)
    private_key = load_private_key(key["privateKey"])[0]
    token = sign_token(private_key, media_id=signed.media_id, expires_in=600)
    master = f"/hls/{signed.media_id}/master.m3u8"
    assert client.get(master, params={"token": token}).status_code == 200
    with server.client(signed.write) as writer:
        assert writer.delete(f"/api/v1/signing-keys/{key['keyId']}").status_code == 200
    refused(client.get(master, params={"token": token}), "revoked")
    refused(client.get(f"/hls/resolve/{signed.media_id}", params={"token": token}), "revoked")


def test_public_items_need_no_token(server: Server, client: httpx.Client, clips: dict[str, Path]) -> None:
    write, read = server.account_keys()
    media_id = upload_file(server, write, clips["mp4"])
    lay_out(server, media_id)
    with server.client(read) as reader:
        assert reader.get(f"/api/v1/media/{media_id}").json()["data"]["playbackPolicy"] == "public"
    assert client.get(f"/hls/resolve/{media_id}").json() == {
        "ul": f"{server.settings.public_url}/hls/{media_id}/master.m3u8"
    }
    master = client.get(f"/hls/{media_id}/master.m3u8", params={"token": "ignored"})
    assert master.status_code == 200 and master.text == MASTER
    assert "immutable" in client.get(f"/hls/{media_id}/360p/seg_00000.ts").headers["cache-control"]
    assert client.get(f"/embed/{media_id}").status_code == 200


def test_signed_live_stream(server: Server, client: httpx.Client) -> None:
    write, read = server.account_keys()
    with server.client(write) as writer:
        created = writer.post("/api/v1/live", json={"title": "Secret show", "playbackPolicy": "signed"})
        assert created.status_code == 201, created.text
        live_id = created.json()["data"]["mediaId"]
    with server.client(read) as reader:
        assert reader.get(f"/api/v1/live/{live_id}").json()["data"]["playbackPolicy"] == "signed"
        code = reader.get(f"/api/v1/media/{live_id}/embed").json()["data"]["embedCode"]
        assert "token:" in code  # the snippet reminds the integrator to add one
        code = reader.get(f"/api/v1/media/{live_id}/embed", params={"token": "T.O.K"}).json()["data"]
        assert "token: 'T.O.K'," in code["embedCode"]
    hls = server.settings.storage_root / "hls" / live_id
    hls.mkdir(parents=True)
    (hls / "master.m3u8").write_text(MASTER)
    private_key = load_private_key(create_key(server, write)["privateKey"])[0]
    token = sign_token(private_key, media_id=live_id, expires_in=600)
    assert client.head(f"/hls/{live_id}/master.m3u8").status_code == 403
    refused(client.get(f"/hls/{live_id}/master.m3u8"), "token is required")
    assert client.head(f"/hls/{live_id}/master.m3u8", params={"token": token}).status_code == 200
    assert f"?token={token}" in client.get(f"/hls/{live_id}/master.m3u8", params={"token": token}).text
    with server.client(write) as writer:
        assert writer.delete(f"/api/v1/live/{live_id}").status_code == 200
    assert not (server.settings.storage_root / "signed" / live_id).exists()


def test_delete_removes_the_marker(server: Server, clips: dict[str, Path]) -> None:
    write, _ = server.account_keys()
    media_id = upload_file(server, write, clips["mp4"], playbackPolicy="signed")
    marker = server.settings.storage_root / "signed" / media_id
    assert marker.exists()
    with server.client(write) as client:
        assert client.delete(f"/api/v1/media/{media_id}").status_code == 200
    assert not marker.exists()


def test_key_cache_takes_a_revocation_within_its_ttl(server: Server, signed: Signed) -> None:
    """Another API process (its own verifier) refuses a revoked key once its cache entry is older
    than VSRC_SIGNING_KEY_CACHE_SECONDS; the revoking process refuses it at once (test above)."""
    now = [0.0]
    other_process = TokenVerifier(server.sessions, ttl=10, clock=lambda: now[0])
    key = create_key(server, signed.write)
    token = sign_token(load_private_key(key["privateKey"])[0], media_id=signed.media_id, expires_in=600)
    with server.sessions() as session:
        account_id = find_item(session, public_id=signed.media_id).account_id
    check = {"media_id": signed.media_id, "account_id": account_id, "audience": "v"}
    other_process.verify(token, **check)
    with server.client(signed.write) as writer:
        assert writer.delete(f"/api/v1/signing-keys/{key['keyId']}").status_code == 200
    now[0] = 9.9
    other_process.verify(token, **check)  # still trusted from its cache
    now[0] = 10.0
    with pytest.raises(TokenRefused, match="revoked"):
        other_process.verify(token, **check)


def test_cli_signs_tokens_the_server_accepts(
    server: Server, client: httpx.Client, signed: Signed, tmp_path: Path
) -> None:
    key = create_key(server, signed.write)
    pem = tmp_path / "key.pem"
    pem.write_text(key["privateKey"])
    as_json = tmp_path / "key.json"
    as_json.write_text(json.dumps({"success": True, "data": key}))

    def sign(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vsrc", "tokens", "sign", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    for key_file, aud, path in (
        (pem, "v", "hls/{id}/master.m3u8"),
        (as_json, "v,t", "thumbnails/{id}/poster.jpg"),
    ):
        done = sign("--key-file", str(key_file), "--media", signed.media_id, "--expires", "1h", "--aud", aud)
        assert done.returncode == 0, done.stderr
        token = done.stdout.strip()
        assert jwt.get_unverified_header(token)["kid"] == key["keyId"]
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["sub"] == signed.media_id and 3500 < claims["exp"] - time.time() <= 3600
        assert client.get(f"/{path.format(id=signed.media_id)}", params={"token": token}).status_code == 200
    bad = sign("--key-file", str(pem), "--media", signed.media_id, "--expires", "soon")
    assert bad.returncode == 2 and "duration" in bad.stderr
    bad_aud = sign("--key-file", str(pem), "--media", signed.media_id, "--aud", "x")
    assert bad_aud.returncode == 2 and "aud" in bad_aud.stderr
    not_a_key = sign("--key-file", str(tmp_path / "missing.pem"), "--media", signed.media_id)
    assert not_a_key.returncode == 2


def test_a_remembered_token_still_expires(server: Server, signed: Signed) -> None:
    """Tokens seen before skip the RSA verification, never the expiry."""
    wall = [time.time()]
    verifier = TokenVerifier(server.sessions, ttl=10, wall_clock=lambda: wall[0])
    with server.sessions() as session:
        account_id = find_item(session, public_id=signed.media_id).account_id
    check = {"media_id": signed.media_id, "account_id": account_id, "audience": "v"}
    token = signed.token(expires_in=60)
    verifier.verify(token, **check)
    verifier.verify(token, **check)
    with pytest.raises(TokenRefused, match="aud does not allow 't'"):
        verifier.verify(token, **{**check, "audience": "t"})
    wall[0] += 120
    with pytest.raises(TokenRefused, match="expired"):
        verifier.verify(token, **check)


def test_patch_switches_the_policy(server: Server, client: httpx.Client, clips: dict[str, Path]) -> None:
    write, read = server.account_keys()
    other_write, _ = server.account_keys()
    media_id = upload_file(server, write, clips["mp4"])
    lay_out(server, media_id)
    master = f"/hls/{media_id}/master.m3u8"
    assert client.get(master).status_code == 200
    private_key = load_private_key(create_key(server, write)["privateKey"])[0]
    token = sign_token(private_key, media_id=media_id, expires_in=600)
    with server.client(write) as writer:
        for body in ({"playbackPolicy": "private"}, {"playbackPolicy": None}, {"playbackPolicy": ""}):
            bad = writer.patch(f"/api/v1/media/{media_id}", json=body)
            assert bad.status_code == 400, bad.text
            assert bad.json()["errors"] == [
                {"field": "playbackPolicy", "message": "playbackPolicy must be 'public' or 'signed'"}
            ]
        assert client.get(master).status_code == 200  # a refused PATCH changed nothing
        with server.client(other_write) as stranger:
            assert (
                stranger.patch(f"/api/v1/media/{media_id}", json={"playbackPolicy": "signed"}).status_code
                == 404
            )
        assert client.get(master).status_code == 200
        signed = writer.patch(
            f"/api/v1/media/{media_id}", json={"playbackPolicy": "signed", "title": "Now paid"}
        )
        assert signed.status_code == 200, signed.text
        assert signed.json()["data"]["playbackPolicy"] == "signed"
    with server.client(read) as reader:
        assert reader.get(f"/api/v1/media/{media_id}").json()["data"]["playbackPolicy"] == "signed"
    refused(client.get(master), "token is required")
    refused(client.get(f"/hls/resolve/{media_id}"), "token is required")
    assert client.get(master, params={"token": token}).status_code == 200
    with server.client(write) as writer:
        public = writer.patch(f"/api/v1/media/{media_id}", json={"playbackPolicy": "public"})
        assert public.status_code == 200 and public.json()["data"]["playbackPolicy"] == "public"
    assert client.get(master).status_code == 200
    assert client.get(f"/hls/resolve/{media_id}").status_code == 200
    assert not (server.settings.storage_root / "signed" / media_id).exists()


def test_openapi_documents_signing_keys_and_the_token(server: Server, client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for path, method in (
        ("/api/v1/signing-keys", "post"),
        ("/api/v1/signing-keys", "get"),
        ("/api/v1/signing-keys/{keyId}", "delete"),
    ):
        ok = next(v for k, v in spec["paths"][path][method]["responses"].items() if k.startswith("2"))
        ref = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert schemas[ref].get("examples"), (path, method, ref)
    for path in ("/hls/resolve/{mediaId}", "/hls/{mediaId}/{path}", "/thumbnails/{mediaId}/{path}"):
        assert "token" in [p["name"] for p in spec["paths"][path]["get"]["parameters"]], path
    upload = spec["paths"]["/api/v1/media/upload"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert upload["schema"]["properties"]["playbackPolicy"]["enum"] == ["public", "signed"]
    assert "playbackPolicy" in schemas["LiveCreate"]["properties"]
    assert "playbackPolicy" in schemas["MediaUpdate"]["properties"]
