"""The webhook and media-editing endpoints: validation, SSRF refusal, isolation between accounts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import (
    Server,
    make_clip,
    start_server,
    start_worker,
    stop_server,
    stop_worker,
    upload_file,
)
from tests.helpers import eventually
from tests.webhooks.conftest import create_webhook, deliveries
from tests.webhooks.receiver import Receiver

HOOK = "http://127.0.0.1:9/hook"  # never called: no worker runs on this server


@pytest.fixture(scope="module")
def private_ok(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("hooks"), webhook_allow_private=True)
    yield srv
    stop_server(srv)


def fields(resp) -> set[str]:  # type: ignore[no-untyped-def]
    body = resp.json()
    assert body["success"] is False, body
    return {e["field"] for e in body.get("errors") or []}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
        # IPv6 forms that carry an IPv4 address a gateway would reach: NAT64 (well-known and
        # local-use prefixes), 6to4, Teredo (client 127.0.0.1), IPv4-compatible.
        "http://[64:ff9b::7f00:1]/",
        "http://[64:ff9b::a00:1]/",
        "http://[64:ff9b:1::c0a8:1]/",
        "http://[2002:7f00:1::1]/",
        "http://[2002:c0a8:1::1]/",
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
        "http://[::127.0.0.1]/",
    ],
)
def test_private_targets_are_refused_by_default(server: Server, url: str) -> None:
    write, _ = server.account_keys()
    with server.client(write) as client:
        resp = client.post("/api/v1/webhooks", json={"url": url})
        assert resp.status_code == 400, resp.text
        assert fields(resp) == {"url"} and "VSRC_WEBHOOK_ALLOW_PRIVATE" in resp.text
        assert client.get("/api/v1/webhooks").json()["data"]["webhooks"] == []


@pytest.mark.slow  # a real worker process
def test_private_target_refused_again_at_delivery(private_ok: Server) -> None:
    """Saved while allowed, sent by a worker that does not allow it (a name can re-resolve to a
    private address later): refused at delivery, logged, nothing reaches the receiver."""
    receiver = Receiver().start()
    worker = start_worker(private_ok.settings)  # VSRC_WEBHOOK_ALLOW_PRIVATE unset
    try:
        write, _ = private_ok.account_keys()
        hook = create_webhook(private_ok, write, receiver.url)
        with private_ok.client(write) as client:
            assert client.post(f"/api/v1/webhooks/{hook['webhookId']}/test").status_code == 202
        logged = eventually(
            lambda: (d := deliveries(private_ok, write, hook["webhookId"]))[0]["attempts"] and d
        )
        assert logged[0]["lastError"].startswith("refused:") and logged[0]["lastStatusCode"] is None
        assert logged[0]["status"] == "pending" and logged[0]["nextAttemptAt"]
        assert receiver.requests == []
    finally:
        stop_worker(worker)
        receiver.stop()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "url"),
        ({"url": "ftp://127.0.0.1/x"}, "url"),
        ({"url": "127.0.0.1/hook"}, "url"),
        ({"url": "http://user:pw@127.0.0.1/"}, "url"),
        ({"url": "http://127.0.0.1:99999/"}, "url"),
        ({"url": "http://[::1/hook"}, "url"),  # urlsplit raises ValueError: was a 500
        ({"url": "http://127.0.0.1/\x00"}, "url"),
        ({"url": "http://" + "a" * 2100 + ".com/"}, "url"),
        ({"url": 5}, "url"),
        ({"url": HOOK, "events": ["media.exploded"]}, "events"),
        ({"url": HOOK, "events": "media.completed"}, "events"),
        ({"url": HOOK, "events": []}, "events"),
        ({"url": HOOK, "events": ["webhook.test"]}, "events"),
        ({"url": HOOK, "description": "x" * 1001}, "description"),
        ({"url": HOOK, "secret": "mine"}, "secret"),
    ],
)
def test_create_validation(private_ok: Server, body: dict, field: str) -> None:
    write, _ = private_ok.account_keys()
    with private_ok.client(write) as client:
        resp = client.post("/api/v1/webhooks", json=body)
        assert resp.status_code == 400, resp.text
        assert field in fields(resp)
        assert client.get("/api/v1/webhooks").json()["data"]["webhooks"] == []


def test_crud_and_secret_shown_once(private_ok: Server) -> None:
    write, read = private_ok.account_keys()
    hook = create_webhook(private_ok, write, HOOK, events=["media.completed", "media.completed"])
    assert hook["events"] == ["media.completed"] and hook["description"] is None
    hook_id = hook["webhookId"]
    with private_ok.client(read) as client:
        listed = client.get("/api/v1/webhooks").json()["data"]["webhooks"]
        got = client.get(f"/api/v1/webhooks/{hook_id}").json()["data"]
        assert client.post("/api/v1/webhooks", json={"url": HOOK}).status_code == 403
        assert client.patch(f"/api/v1/webhooks/{hook_id}", json={"enabled": False}).status_code == 403
        assert client.delete(f"/api/v1/webhooks/{hook_id}").status_code == 403
        assert client.post(f"/api/v1/webhooks/{hook_id}/test").status_code == 403
    assert [h["webhookId"] for h in listed] == [hook_id]
    assert "secret" not in listed[0] and "secret" not in got
    with private_ok.client(write) as client:
        resp = client.patch(f"/api/v1/webhooks/{hook_id}", json={"enabled": False, "events": ["*"]})
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"]["enabled"] is False and resp.json()["data"]["events"] == ["*"]
        bad = client.patch(f"/api/v1/webhooks/{hook_id}", json={"enabled": "yes", "url": "gopher://x"})
        assert bad.status_code == 400 and fields(bad) == {"enabled", "url"}
        assert client.get(f"/api/v1/webhooks/{hook_id}").json()["data"]["enabled"] is False
        assert client.get("/api/v1/webhooks/not-an-id").status_code == 400
        assert client.get("/api/v1/webhooks/whk_00000000-0000-4000-8000-000000000000").status_code == 404
        assert client.delete(f"/api/v1/webhooks/{hook_id}").status_code == 200
        assert client.get(f"/api/v1/webhooks/{hook_id}").status_code == 404


def test_accounts_are_isolated(private_ok: Server) -> None:
    write_a, _ = private_ok.account_keys()
    write_b, _ = private_ok.account_keys()
    hook = create_webhook(private_ok, write_a, HOOK)
    hook_id = hook["webhookId"]
    with private_ok.client(write_a) as client:
        delivery = client.post(f"/api/v1/webhooks/{hook_id}/test").json()["data"]
    with private_ok.client(write_b) as client:
        assert client.get("/api/v1/webhooks").json()["data"]["webhooks"] == []
        for method, path in (
            ("GET", f"/api/v1/webhooks/{hook_id}"),
            ("PATCH", f"/api/v1/webhooks/{hook_id}"),
            ("DELETE", f"/api/v1/webhooks/{hook_id}"),
            ("POST", f"/api/v1/webhooks/{hook_id}/test"),
            ("GET", f"/api/v1/webhooks/{hook_id}/deliveries"),
            ("POST", f"/api/v1/webhooks/{hook_id}/deliveries/{delivery['deliveryId']}/redeliver"),
        ):
            resp = client.request(method, path, json={"enabled": False} if method == "PATCH" else None)
            assert resp.status_code == 404, (method, path, resp.text)
    with private_ok.client(write_a) as client:
        assert client.get(f"/api/v1/webhooks/{hook_id}").json()["data"]["enabled"] is True
        log = client.get(f"/api/v1/webhooks/{hook_id}/deliveries").json()["data"]
        assert [d["deliveryId"] for d in log["deliveries"]] == [delivery["deliveryId"]]
        assert log["pagination"]["total"] == 1
        other = "dlv_00000000-0000-4000-8000-000000000000"
        assert client.post(f"/api/v1/webhooks/{hook_id}/deliveries/{other}/redeliver").status_code == 404


def test_patch_media(private_ok: Server, tmp_path: Path) -> None:
    write, read = private_ok.account_keys()
    other_write, _ = private_ok.account_keys()
    media_id = upload_file(private_ok, write, make_clip(tmp_path / "e.mp4"), tags="one", description="d")
    path = f"/api/v1/media/{media_id}"
    with private_ok.client(write) as client:
        resp = client.patch(path, json={"title": "  New title ", "tags": "Two, three,two"})
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        assert data["title"] == "New title" and data["description"] == "d"
        assert [t["name"] for t in data["tags"]] == ["Two", "three"]
        assert client.get(path).json()["data"] == data
        data = client.patch(path, json={"description": None, "tags": []}).json()["data"]
        assert data["description"] is None and data["tags"] == []
        for body, field in (
            ({}, "request"),
            ({"title": ""}, "title"),
            ({"title": None}, "title"),
            ({"title": "x" * 256}, "title"),
            ({"description": "x" * 1001}, "description"),
            ({"tags": "x" * 501}, "tags"),
            ({"tags": ["a,b"]}, "tags"),
            ({"tags": ["x" * 256]}, "tags"),
            ({"title": "a\x00b"}, "title"),
            ({"encodingProfileId": 1}, "encodingProfileId"),
        ):
            resp = client.patch(path, json=body)
            assert resp.status_code == 400, (body, resp.text)
            assert field in fields(resp), (body, resp.text)
        assert client.get(path).json()["data"]["title"] == "New title"
        assert (
            client.patch(path, content=b"{not json", headers={"content-type": "application/json"}).status_code
            == 400
        )
    with private_ok.client(read) as client:
        assert client.patch(path, json={"title": "no"}).status_code == 403
    with private_ok.client(other_write) as client:
        assert client.patch(path, json={"title": "no"}).status_code == 404
    with private_ok.client(write) as client:
        assert client.get(path).json()["data"]["title"] == "New title"
