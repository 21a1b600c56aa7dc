"""The Huey instance (SQLite by default, Redis when ``VSRC_REDIS_URL`` is set) and its tasks.

Tasks take ids only and are enqueued after the transaction that created their row commits. Each task
is bound here to the process's ``Runtime``; the bodies in ``vsrc.tasks.jobs`` import nothing from
this module (docs/architecture.md#composition-root).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from huey import Huey, RedisHuey, SqliteHuey, crontab

from vsrc.config import Settings
from vsrc.tasks import jobs

if TYPE_CHECKING:
    from vsrc.runtime import Runtime

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


def build_queue(runtime: Runtime) -> TaskQueue:
    """Create the Huey instance and register VSRC's tasks on it, bound to ``runtime``."""
    huey = create_huey(runtime.settings)

    # functools.wraps keeps the body's module and name: Huey's task name stays
    # ``vsrc.tasks.jobs.encode_media``, so messages already queued still find their task.
    @functools.wraps(jobs.encode_media)
    def encode_media(media_id: str, task: Any = None) -> None:
        jobs.encode_media(runtime, media_id, retries_left=int(getattr(task, "retries", 0) or 0))

    @functools.wraps(jobs.requeue_stale)
    def requeue_stale() -> None:
        jobs.requeue_stale(runtime)

    encode_task = huey.task(retries=ENCODE_RETRIES, retry_delay=ENCODE_RETRY_DELAY, context=True)(
        encode_media
    )
    requeue_task = huey.periodic_task(crontab(minute="*"))(requeue_stale)
    return TaskQueue(huey=huey, encode_media=encode_task, requeue_stale=requeue_task)
