"""Webhooks end to end: a real upload and encode, a real worker sending to a real local receiver."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Server, make_clip, upload_file, wait_for_status
from tests.helpers import eventually
from tests.webhooks.conftest import create_webhook, deliveries
from tests.webhooks.receiver import Receiver
from vsrc.webhooks import InvalidSignature, signature_header, verify_signature

pytestmark = pytest.mark.slow


def test_upload_events_are_signed_ordered_and_retried(
    stack: Server, receiver: Receiver, tmp_path: Path
) -> None:
    write, read = stack.account_keys()
    other_write, _ = stack.account_keys()
    other = Receiver().start()
    try:
        receiver.fail_first["media.completed"] = 1  # answers 500 once, then 200
        hook = create_webhook(stack, write, receiver.url, description="main")
        assert hook["webhookId"].startswith("whk_") and hook["secret"].startswith("whsec_")
        assert hook["events"] == ["*"] and hook["enabled"] is True
        create_webhook(stack, other_write, other.url)
        media_id = upload_file(stack, write, make_clip(tmp_path / "a.mp4", seconds=2), tags="x")

        completed = eventually(lambda: receiver.delivered("media.completed", media_id), 120)
        created = receiver.delivered("media.created", media_id)
        playable = receiver.delivered("media.playable", media_id)
        assert len(created) == 1 and len(playable) == 1 and len(completed) == 1
        times = [r.event["createdAt"] for r in (created[0], playable[0], completed[0])]
        assert times == sorted(times)
        # Every request verifies with the helper; the headers agree with the body.
        for request in created + playable + receiver.of_type("media.completed", media_id):
            assert verify_signature(request.body, request.headers["vsrc-signature"], hook["secret"])
            event = request.event
            assert set(event) == {"id", "type", "createdAt", "data"}
            assert event["id"].startswith("evt_") and event["id"] == request.event_id
            assert event["type"] == request.event_type
            assert request.headers["content-type"] == "application/json"
        # The retry after the 500 carried the same event id and the same bytes.
        tries = receiver.of_type("media.completed", media_id)
        assert [t.status for t in tries] == [500, 200]
        assert tries[0].event_id == tries[1].event_id and tries[0].body == tries[1].body
        # data is the object GET returns.
        with stack.client(read) as client:
            current = client.get(f"/api/v1/media/{media_id}").json()["data"]
        assert completed[0].event["data"] == current
        assert created[0].event["data"]["encodingStatus"] == "pending"
        assert created[0].event["data"]["tags"][0]["name"] == "x"
        assert playable[0].event["data"]["playbackUrl"] == current["playbackUrl"]
        # The delivery log shows the failed attempt and the success.
        log = {d["eventType"]: d for d in deliveries(stack, read, hook["webhookId"])}
        assert log["media.completed"]["attempts"] == 2 and log["media.completed"]["status"] == "delivered"
        assert log["media.completed"]["lastStatusCode"] == 200 and log["media.completed"]["deliveredAt"]
        assert log["media.created"]["attempts"] == 1 and log["media.created"]["lastLatencyMs"] >= 0
        # Another account's receiver heard nothing of this media.
        assert not [r for r in other.requests if r.event["data"].get("mediaId") == media_id]
    finally:
        other.stop()


def test_signature_helper_refuses_tampering() -> None:
    body = b'{"id":"evt_1","type":"webhook.test"}'
    header = signature_header("whsec_abc", body)
    assert verify_signature(body, header, "whsec_abc")
    assert verify_signature(body.decode(), header, "whsec_abc")
    for args in (
        (body + b" ", header, "whsec_abc"),  # re-serialised body
        (body, header, "whsec_other"),
        (body, "v1=" + header.split("v1=")[1], "whsec_abc"),  # no timestamp
        (body, "", "whsec_abc"),
        (body, signature_header("whsec_abc", body, timestamp=1_000_000), "whsec_abc"),  # too old
        # A header decoded as Latin-1 by the receiver's framework: refused, not a TypeError (a 500).
        (body, header.split("v1=")[0] + "v1=\u00e9", "whsec_abc"),
    ):
        with pytest.raises(InvalidSignature):
            verify_signature(*args)
    old = signature_header("whsec_abc", body, timestamp=1_000_000)
    assert verify_signature(body, old, "whsec_abc", tolerance=0)


def test_hanging_receiver_delays_neither_the_upload_nor_the_encode(
    stack: Server, receiver: Receiver, tmp_path: Path
) -> None:
    write, _ = stack.account_keys()
    hook = create_webhook(stack, write, receiver.url)
    receiver.hold()
    with stack.client(write) as client:
        assert client.post(f"/api/v1/webhooks/{hook['webhookId']}/test").status_code == 202
    eventually(lambda: receiver.blocked >= 1, 60, what="the receiver hangs on the test event")
    # The receiver is stuck: the upload answers and the encode completes all the same.
    media_id = upload_file(stack, write, make_clip(tmp_path / "b.mp4"))
    assert receiver.blocked >= 1
    data, _ = wait_for_status(stack, write, media_id, timeout=120)
    assert data["encodingStatus"] == "completed"
    assert receiver.blocked >= 1
    receiver.release()
    # The events queued behind the hang go out once it clears (or its attempts time out).
    eventually(lambda: receiver.of_type("media.completed", media_id), 120)


def test_retries_give_up_then_redeliver(stack: Server, receiver: Receiver) -> None:
    write, _ = stack.account_keys()
    receiver.fail_first["webhook.test"] = 1000
    hook = create_webhook(stack, write, receiver.url, events=["media.completed"])
    with stack.client(write) as client:
        queued = client.post(f"/api/v1/webhooks/{hook['webhookId']}/test").json()["data"]
    assert queued["status"] == "pending" and queued["eventType"] == "webhook.test"

    def failed() -> dict | None:
        log = deliveries(stack, write, hook["webhookId"])
        return log[0] if log[0]["status"] == "failed" else None

    gave_up = eventually(failed, 120, what="retries exhausted")
    assert gave_up["attempts"] >= 2 and gave_up["lastStatusCode"] == 500 and gave_up["nextAttemptAt"] is None
    tries = receiver.of_type("webhook.test")
    assert len(tries) == gave_up["attempts"] and len({t.event_id for t in tries}) == 1
    receiver.fail_first.clear()
    with stack.client(write) as client:
        resp = client.post(
            f"/api/v1/webhooks/{hook['webhookId']}/deliveries/{gave_up['deliveryId']}/redeliver"
        )
    assert resp.status_code == 202, resp.text
    eventually(lambda: receiver.delivered("webhook.test"), 60)
    assert receiver.delivered("webhook.test")[0].event_id == queued["eventId"]
    assert eventually(lambda: deliveries(stack, write, hook["webhookId"])[0]["status"] == "delivered", 30)


def test_a_redirect_is_a_failed_attempt_and_is_never_followed(stack: Server, receiver: Receiver) -> None:
    """A receiver answering 302 to another (here loopback, reachable) address: each attempt records the
    302 as a failure and the redirect's target never sees a request (SSRF through a redirect)."""
    write, _ = stack.account_keys()
    inside = Receiver().start()  # what the redirect points at: an address the check would refuse
    try:
        receiver.redirect_to = f"{inside.url}?from=redirect"
        hook = create_webhook(stack, write, receiver.url, events=["media.completed"])
        with stack.client(write) as client:
            assert client.post(f"/api/v1/webhooks/{hook['webhookId']}/test").status_code == 202

        def retried() -> dict | None:
            log = deliveries(stack, write, hook["webhookId"])[0]
            return log if log["attempts"] >= 2 else None

        delivery = eventually(retried, 120, what="two attempts")
        assert delivery["status"] != "delivered" and delivery["lastStatusCode"] == 302
        assert len(receiver.of_type("webhook.test")) >= 2
        assert inside.requests == []
    finally:
        inside.stop()


def test_edit_emits_media_updated(stack: Server, receiver: Receiver, tmp_path: Path) -> None:
    write, _ = stack.account_keys()
    hook = create_webhook(stack, write, receiver.url, events=["media.updated", "media.deleted"])
    media_id = upload_file(stack, write, make_clip(tmp_path / "c.mp4"))
    with stack.client(write) as client:
        resp = client.patch(f"/api/v1/media/{media_id}", json={"title": "Renamed", "tags": ["a", "b"]})
        assert resp.status_code == 200, resp.text
        assert client.delete(f"/api/v1/media/{media_id}").status_code == 200
    updated = eventually(lambda: receiver.delivered("media.updated", media_id), 60)
    assert updated[0].event["data"]["title"] == "Renamed"
    assert [t["name"] for t in updated[0].event["data"]["tags"]] == ["a", "b"]
    deleted = eventually(lambda: receiver.delivered("media.deleted", media_id), 60)
    assert verify_signature(deleted[0].body, deleted[0].headers["vsrc-signature"], hook["secret"])
    assert not receiver.of_type("media.created")  # not subscribed
