"""Dashboard endpoints over HTTP: direct-upload creation for Uppy, keys and live forms, other accounts."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.api.test_event_loop import STALL, Stall, _answers, _in_background
from tests.conftest import Server, make_clip, start_server, stop_server, upload_file
from tests.web.conftest import page_csrf, sign_up
from vsrc.db.models import SigningKey, User
from vsrc.db.session import transaction
from vsrc.services import webhooks


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("web-pages"), open_signup=True)
    yield srv
    stop_server(srv)


def test_upload_create_needs_csrf_validates_and_hands_out_a_tus_url(open_server: Server) -> None:
    client, _ = sign_up(open_server)
    token = page_csrf(client, "/upload")
    body = {"title": "From the page", "tags": "a,b", "playbackPolicy": "public"}
    assert client.post("/upload/create", json=body).status_code == 403
    bad = client.post("/upload/create", json={**body, "title": ""}, headers={"X-CSRF-Token": token})
    assert bad.status_code == 400 and "title" in bad.json()["message"]
    policy = client.post(
        "/upload/create", json={**body, "playbackPolicy": "secret"}, headers={"X-CSRF-Token": token}
    )
    assert policy.status_code == 400 and "playbackPolicy" in policy.json()["message"]
    made = client.post("/upload/create", json=body, headers={"X-CSRF-Token": token})
    assert made.status_code == 201, made.text
    upload_id, url = made.json()["uploadId"], made.json()["uploadUrl"]
    assert upload_id.startswith("upl_") and "/tus/" in url
    status = client.get(f"/upload/{upload_id}/status").json()
    assert status == {"uploadId": upload_id, "status": "waiting", "mediaId": None, "errorMessage": None}
    other, _ = sign_up(open_server)
    assert other.get(f"/upload/{upload_id}/status").status_code == 404


def test_key_and_live_forms_show_field_errors(open_server: Server) -> None:
    client, _ = sign_up(open_server)
    token = page_csrf(client, "/keys")
    bad_key = client.post("/keys", data={"name": "", "permission": "write", "csrf_token": token})
    assert bad_key.status_code == 400 and "must be 1 to 255 characters" in bad_key.text
    made = client.post("/keys", data={"name": "ok", "permission": "read", "csrf_token": token})
    assert made.status_code == 201 and 'data-testid="new-key"' in made.text
    assert 'data-testid="new-key"' not in client.get("/keys").text
    bad_live = client.post("/live", data={"title": "", "csrf_token": token})
    assert bad_live.status_code == 400 and "title is required" in bad_live.text
    no_region = client.post("/live", data={"title": "x", "region": "mars", "csrf_token": token})
    assert no_region.status_code == 409 and "No online RTMP server in region" in no_region.text
    created = client.post("/live", data={"title": "Show", "csrf_token": token})
    assert created.status_code == 303
    assert "Show" in client.get("/live").text
    signed = client.post("/live", data={"title": "Members", "playbackPolicy": "signed", "csrf_token": token})
    assert signed.status_code == 303
    with open_server.client() as anonymous:  # the signed one asks for a token before it even has files
        for made, status in ((created, 404), (signed, 403)):
            live_id = made.headers["location"].split("#", 1)[1]
            assert anonymous.get(f"/hls/{live_id}/master.m3u8").status_code == status, live_id
    other, _ = sign_up(open_server)
    assert "Show" not in other.get("/live").text


def test_webhook_form_reads_the_database_off_the_loop(
    open_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """POST /webhooks (an async route: it reads the repeated "events" field) renders its page with
    database reads; stalled, they must not stop the server answering others."""
    client, _ = sign_up(open_server)
    token = page_csrf(client, "/webhooks")
    listing = Stall(webhooks.list_webhooks)
    monkeypatch.setattr(webhooks, "list_webhooks", listing)
    thread, result = _in_background(
        lambda: client.post("/webhooks", data={"url": "", "csrf_token": token}, timeout=STALL + 60)
    )
    try:
        assert listing.entered.wait(60), "the form never listed the webhooks"
        assert _answers(open_server) == 200  # the database read is stuck, the loop is not
    finally:
        listing.release()
        thread.join(STALL + 60)
    assert result and result[0].status_code == 400, result
    assert open_server.thread.ident not in listing.threads


def test_the_preview_signing_key_is_neither_listed_nor_revocable_on_the_signing_keys_page(
    open_server: Server, tmp_path: Path
) -> None:
    # The dashboard signs its previews of signed items with an internal key of the account: the Signing
    # keys page neither lists it nor revokes it, so previews never end up signed with a revoked key.
    client, email = sign_up(open_server)
    token = page_csrf(client, "/keys")
    made = client.post("/keys", data={"name": "up", "permission": "write", "csrf_token": token})
    key = re.search(r'data-testid="new-key">([^<]+)<', made.text)
    assert key, made.text
    upload_file(open_server, key.group(1), make_clip(tmp_path / "c.mp4"), playbackPolicy="signed")

    def preview_keys() -> list[str]:
        query = (
            select(SigningKey.key_id)
            .join(User, User.account_id == SigningKey.account_id)
            .where(User.email == email, SigningKey.revoked_at.is_(None))
        )
        with transaction(open_server.sessions) as session:
            return list(session.scalars(query))

    assert client.get("/").status_code == 200  # a signed item in the library: the preview key is made
    made_keys = preview_keys()
    assert len(made_keys) == 1, made_keys
    assert 'action="/signing-keys/' not in client.get("/signing-keys").text
    refused = client.post(f"/signing-keys/{made_keys[0]}/revoke", data={"csrf_token": token})
    assert refused.status_code == 404, refused.text
    assert client.get("/").status_code == 200
    assert preview_keys() == made_keys


def test_revoke_confirmations_state_the_cache_bound(open_server: Server) -> None:
    """Other API processes honour a revocation within their key caches (VSRC_KEY_CACHE_SECONDS,
    VSRC_SIGNING_KEY_CACHE_SECONDS), so the dashboard never promises "at once"."""
    client, _ = sign_up(open_server)
    token = page_csrf(client, "/keys")
    assert (
        client.post("/keys", data={"name": "app", "permission": "read", "csrf_token": token}).status_code
        == 201
    )
    assert client.post("/signing-keys", data={"csrf_token": token}).status_code == 201
    settings = open_server.settings
    api_keys = client.get("/keys").text
    assert "at once" not in api_keys
    assert f"stop working within {settings.key_cache_seconds:g} s" in html.unescape(api_keys), api_keys
    signing = client.get("/signing-keys").text
    revoke = re.search(r'action="/signing-keys/([^/]+)/revoke" data-confirm="([^"]+)"', signing)
    assert revoke, signing
    assert f"stop playing within {settings.signing_key_cache_seconds:g} s" in html.unescape(revoke.group(2))
    done = client.post(f"/signing-keys/{revoke.group(1)}/revoke", data={"csrf_token": token})
    notice = client.get(done.headers["location"]).text
    assert f"within {settings.signing_key_cache_seconds:g} s" in html.unescape(notice), notice
