"""A real API + worker stack that may call loopback receivers, and real receivers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_server, start_worker, stop_server, stop_worker
from tests.webhooks.receiver import Receiver

# Quick retries for tests: 0.5 s doubling; a delivery gives up 20 s after its event (roomy on a loaded box).
WORKER_ENV = {
    "VSRC_WEBHOOK_ALLOW_PRIVATE": "true",
    "VSRC_WEBHOOK_RETRY_BASE_SECONDS": "0.5",
    "VSRC_WEBHOOK_RETRY_WINDOW_SECONDS": "20",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("webhooks"), webhook_allow_private=True)
    worker = start_worker(server.settings, **WORKER_ENV)
    yield server
    stop_worker(worker)
    stop_server(server)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver().start()
    yield rec
    rec.stop()


def create_webhook(server: Server, key: str, url: str, **body: object) -> dict:
    with server.client(key) as client:
        resp = client.post("/api/v1/webhooks", json={"url": url, **body})
    assert resp.status_code == 201, resp.text
    return dict(resp.json()["data"])


def deliveries(server: Server, key: str, webhook_id: str) -> list[dict]:
    with server.client(key) as client:
        resp = client.get(f"/api/v1/webhooks/{webhook_id}/deliveries", params={"limit": 100})
    assert resp.status_code == 200, resp.text
    return list(resp.json()["data"]["deliveries"])
