"""The Huey instance (SQLite by default, Redis when ``VSRC_REDIS_URL`` is set) and its tasks.

Tasks take ids only and are enqueued after the transaction that created their row commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey, crontab

from vsrc.config import Settings

ENCODE_RETRIES = 2
ENCODE_RETRY_DELAY = 5


def create_huey(settings: Settings) -> Huey:
    if settings.redis_url:
        return RedisHuey("vsrc", url=settings.redis_url, utc=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("vsrc", filename=str(settings.queue_path), utc=True)


@dataclass
class TaskQueue:
    """The queue plus the task handles the rest of the code enqueues through."""

    huey: Huey
    encode_media: Any
    requeue_stale: Any

    def enqueue_encode(self, media_id: str) -> None:
        self.encode_media(media_id)

    def pending_count(self) -> int:
        return int(self.huey.pending_count())


def build_queue(settings: Settings) -> TaskQueue:
    """Create the Huey instance and register VSRC's tasks on it."""
    from vsrc.tasks import jobs

    huey = create_huey(settings)
    encode_task = huey.task(retries=ENCODE_RETRIES, retry_delay=ENCODE_RETRY_DELAY, context=True)(
        jobs.encode_media
    )
    requeue_task = huey.periodic_task(crontab(minute="*"))(jobs.requeue_stale)
    return TaskQueue(huey=huey, encode_media=encode_task, requeue_stale=requeue_task)
