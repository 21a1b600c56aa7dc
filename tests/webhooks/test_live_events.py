"""live.created / live.started / live.ended / live.recording.created from a real ffmpeg publish."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_server, start_worker, stop_server, stop_worker
from tests.helpers import eventually
from tests.live.conftest import LiveStack, publish, start_ingest, stop_ingest
from tests.webhooks.conftest import WORKER_ENV, create_webhook
from tests.webhooks.receiver import Receiver
from vsrc.webhooks import verify_signature

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    server: Server = start_server(tmp_path_factory.mktemp("live-hooks"), webhook_allow_private=True)
    worker = start_worker(server.settings, **WORKER_ENV)
    stack = start_ingest(server)
    yield stack
    stop_ingest(stack)
    stop_worker(worker)
    stop_server(server)


def test_publish_sends_live_events(live_stack: LiveStack, receiver: Receiver) -> None:
    server = live_stack.server
    write, _ = server.account_keys()
    hook = create_webhook(
        server,
        write,
        receiver.url,
        events=["live.created", "live.started", "live.ended", "live.recording.created", "media.created"],
    )
    live = live_stack.create_live(write, title="Show")
    live_id = live["mediaId"]
    created = eventually(lambda: receiver.delivered("live.created", live_id), 60)
    assert created[0].event["data"]["status"] == "idle"
    publisher = publish(live_stack.rtmp_url(live["streamKey"]), seconds=4)
    started = eventually(lambda: receiver.delivered("live.started", live_id), 60)
    assert started[0].event["data"]["status"] == "live" and started[0].event["data"]["sessionStartedAt"]
    assert publisher.wait(timeout=60) == 0
    ended = eventually(lambda: receiver.delivered("live.ended", live_id), 60)
    assert ended[0].event["data"]["status"] == "ended"
    assert started[0].event["createdAt"] <= ended[0].event["createdAt"]
    recording = eventually(lambda: receiver.delivered("live.recording.created", live_id), 60)
    recordings = recording[0].event["data"]["recordings"]
    assert len(recordings) == 1 and recordings[0]["mediaId"].startswith("vod_")
    eventually(lambda: receiver.delivered("media.created", recordings[0]["mediaId"]), 60)
    for request in created + started + ended + recording:
        assert verify_signature(request.body, request.headers["vsrc-signature"], hook["secret"])
        # Live objects are rendered as a read key sees them: never the stream key.
        assert request.event["data"]["streamKey"] is None
        assert live["streamKey"] not in request.body.decode()
    assert len({r.event_id for r in created + started + ended + recording}) == 4
