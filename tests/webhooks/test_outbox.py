"""The outbox on a real database: rows written with the change (or not at all), the sweep for lost
deliveries, retention, back-off, and the OpenAPI documentation of the endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.conftest import Server, make_clip, start_server, stop_server, upload_file
from tests.webhooks.conftest import create_webhook, deliveries
from vsrc.db.models import Media, WebhookDelivery, WebhookEvent
from vsrc.db.session import transaction
from vsrc.runtime import Runtime
from vsrc.services import encoding
from vsrc.tasks.webhook_job import sweep
from vsrc.timeutil import utcnow
from vsrc.webhooks.delivery import retry_delay

HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("outbox"), webhook_allow_private=True)
    yield server
    stop_server(server)


def count(server: Server, model: type) -> int:
    with server.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_rolled_back_change_leaves_no_event(srv: Server, tmp_path: Path) -> None:
    write, _ = srv.account_keys()
    create_webhook(srv, write, HOOK)
    media_id = upload_file(srv, write, make_clip(tmp_path / "a.mp4"))
    events = count(srv, WebhookEvent)
    with srv.sessions() as session:
        row = session.scalar(select(Media).where(Media.public_id == media_id))
        assert row is not None
        media_pk, attempt = row.id, row.encode_attempts
    with pytest.raises(RuntimeError), transaction(srv.sessions) as session:
        session.execute(update(Media).where(Media.id == media_pk).values(encoding_status="processing"))
        encoding.finish(session, media_id=media_pk, attempt=attempt, status="completed")
        assert count(srv, WebhookEvent) == events  # not visible to others before commit
        raise RuntimeError("the change fails after the event was written")
    assert count(srv, WebhookEvent) == events
    with transaction(srv.sessions) as session:
        encoding.finish(session, media_id=media_pk, attempt=attempt, status="completed")
    assert count(srv, WebhookEvent) == events + 1


def test_no_subscriber_no_rows(srv: Server, tmp_path: Path) -> None:
    write, _ = srv.account_keys()
    create_webhook(srv, write, HOOK, events=["live.started"])
    before = count(srv, WebhookEvent), count(srv, WebhookDelivery)
    upload_file(srv, write, make_clip(tmp_path / "b.mp4"))
    assert (count(srv, WebhookEvent), count(srv, WebhookDelivery)) == before


def test_sweep_requeues_lost_deliveries_and_prunes_old_events(srv: Server) -> None:
    write, _ = srv.account_keys()
    hook = create_webhook(srv, write, HOOK)
    with srv.client(write) as client:
        lost = client.post(f"/api/v1/webhooks/{hook['webhookId']}/test").json()["data"]
        old = client.post(f"/api/v1/webhooks/{hook['webhookId']}/test").json()["data"]
    long_ago = utcnow() - timedelta(days=31)
    with transaction(srv.sessions) as session:
        # One delivery whose task never ran; one old event already delivered.
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.public_id == lost["deliveryId"])
            .values(next_attempt_at=utcnow() - timedelta(minutes=5))
        )
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.public_id == old["deliveryId"])
            .values(status="delivered", next_attempt_at=None)
        )
        session.execute(
            update(WebhookEvent).where(WebhookEvent.public_id == old["eventId"]).values(created_at=long_ago)
        )
    queued: list[int] = []
    runtime = Runtime(srv.settings)
    try:
        found = sweep(runtime, queued.extend)
    finally:
        runtime.close()
    with srv.sessions() as session:
        lost_pk = session.scalar(
            select(WebhookDelivery.id).where(WebhookDelivery.public_id == lost["deliveryId"])
        )
    assert lost_pk in found and queued == found
    assert [d["deliveryId"] for d in deliveries(srv, write, hook["webhookId"])] == [lost["deliveryId"]]


def test_retry_delay_doubles_and_is_capped() -> None:
    delays = [retry_delay(n, 15) for n in range(1, 14)]
    assert 13.5 <= delays[0] <= 16.5 and 27 <= delays[1] <= 33 and 54 <= delays[2] <= 66
    assert max(delays) <= 3600 * 1.1 and delays[-1] >= 3600 * 0.9


def test_openapi_documents_every_endpoint_with_examples(srv: Server) -> None:
    with srv.client() as client:
        spec = client.get("/openapi.json").json()
    operations = {
        ("/api/v1/webhooks", "post"),
        ("/api/v1/webhooks", "get"),
        ("/api/v1/webhooks/{webhookId}", "get"),
        ("/api/v1/webhooks/{webhookId}", "patch"),
        ("/api/v1/webhooks/{webhookId}", "delete"),
        ("/api/v1/webhooks/{webhookId}/test", "post"),
        ("/api/v1/webhooks/{webhookId}/deliveries", "get"),
        ("/api/v1/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver", "post"),
        ("/api/v1/media/{mediaId}", "patch"),
    }
    schemas = spec["components"]["schemas"]
    for path, method in operations:
        op = spec["paths"][path][method]
        if method in ("post", "patch") and "requestBody" in op:
            body = op["requestBody"]["content"]["application/json"]
            assert body.get("examples") or body["schema"].get("examples"), (path, method)
        ok = next(v for k, v in op["responses"].items() if k.startswith("2"))
        ref = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert schemas[ref].get("examples"), (path, method, ref)
        assert {"400", "401", "404"} <= set(op["responses"]), (path, method)
