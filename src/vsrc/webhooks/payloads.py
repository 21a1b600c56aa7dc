"""Event ``data``: the very object ``GET`` returns for the media item or live stream.

The API's response builders are the one definition of those shapes; they are imported when an event
is rendered (not at module load: ``vsrc.api.schemas.live`` itself imports the live service).
Live stream objects are rendered as a read key sees them: without the stream key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from vsrc.db.models import LiveStream, Media
from vsrc.webhooks.outbox import OutboxConfig

Render = Callable[[OutboxConfig], dict[str, Any]]


def media_data(media: Media) -> Render:
    def render(config: OutboxConfig) -> dict[str, Any]:
        from vsrc.api.schemas.media import media_detail

        return media_detail(media, config.public_url).model_dump(mode="json")

    return render


def live_data(session: Session, stream: LiveStream) -> Render:
    def render(config: OutboxConfig) -> dict[str, Any]:
        from vsrc.api.schemas.live import live_out
        from vsrc.services.live import recordings_of

        recordings = recordings_of(session, stream=stream)
        return live_out(stream, config.public_url, recordings, with_key=False).model_dump(mode="json")

    return render


def ping_data(webhook_id: str) -> Render:
    def render(_config: OutboxConfig) -> dict[str, Any]:
        return {"webhookId": webhook_id, "message": "This is a test event from VSRC."}

    return render
