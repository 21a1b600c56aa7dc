"""The Huey instances (SQLite by default, Redis when ``VSRC_REDIS_URL`` is set) and their tasks.

Tasks take ids only and are enqueued after the transaction that created their row commits.
Webhook deliveries have their own queue and consumer threads: a slow receiver never holds up an
encode, and a long encode never holds up an event (docs/architecture.md, Integrations). Each task
is bound here to the process's ``Runtime``; the bodies in ``vsrc.tasks.jobs`` import nothing from
this module (docs/architecture.md#composition-root).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.storage import SqliteStorage

from vsrc.config import Settings
from vsrc.tasks import jobs
from vsrc.tasks.diskgate import DiskGate
from vsrc.tasks.doorbell import Doorbell

if TYPE_CHECKING:
    from vsrc.runtime import Runtime

ENCODE_RETRIES = 2
ENCODE_RETRY_DELAY = 5


class _Gated:
    """Huey whose consumer asks ``gate`` before taking a job (``vsrc.tasks.diskgate``)."""

    gate: DiskGate | None = None

    def dequeue(self) -> Any:
        take = super().dequeue  # type: ignore[misc]
        return take() if self.gate is None else self.gate.dequeue(take)

    # Huey's scheduler writes the queue each minute (periodic tasks) and when a delayed task is due;
    # while paused it reads nothing: periodic ones come round again, delayed ones wait in the schedule.
    def read_schedule(self, timestamp: Any = None) -> Any:
        if self.gate is not None and not self.gate.may_schedule():
            return []
        return super().read_schedule(timestamp)  # type: ignore[misc]

    def read_periodic(self, timestamp: Any) -> Any:
        if self.gate is not None and not self.gate.may_schedule():
            return []
        return super().read_periodic(timestamp)  # type: ignore[misc]


class _DoorbellSqliteStorage(SqliteStorage):  # type: ignore[misc]
    """SQLite queue whose enqueue rings the consumers' doorbell and whose dequeue waits for it
    (``vsrc.tasks.doorbell``): a job is picked up when it is queued, not at the next poll."""

    blocking = True  # Huey's consumer then calls dequeue again at once instead of sleeping

    def __init__(self, name: str, *, doorbell: Doorbell, poll_seconds: float, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.doorbell = doorbell
        self.poll_seconds = poll_seconds

    def enqueue(self, data: bytes, priority: Any = None) -> None:
        super().enqueue(data, priority)
        self.doorbell.ring()

    def dequeue(self) -> Any:
        listener = self.doorbell.listener()
        # The ring count is read before the query: a job queued after the query rings after it too.
        seen = listener.rings if listener is not None else 0
        data = super().dequeue()
        if data is None:
            if listener is not None:
                listener.wait(seen, self.poll_seconds)
            else:
                time.sleep(self.poll_seconds)
        return data


class _GatedSqliteHuey(_Gated, SqliteHuey):  # type: ignore[misc]
    storage_class = _DoorbellSqliteStorage


class _GatedRedisHuey(_Gated, RedisHuey):  # type: ignore[misc]
    pass


def create_huey(settings: Settings, name: str = "vsrc") -> Huey:
    if settings.redis_url:
        return _GatedRedisHuey(name, url=settings.redis_url, utc=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.queue_path if name == "vsrc" else settings.webhook_queue_path
    doorbell = Doorbell(settings.data_dir / "wake" / name)
    return _GatedSqliteHuey(
        name, filename=str(path), utc=True, doorbell=doorbell, poll_seconds=settings.queue_poll_seconds
    )


@dataclass
class TaskQueue:
    """The queue plus the task handles the rest of the code enqueues through."""

    huey: Huey
    encode_media: Any
    requeue_stale: Any
    webhooks_huey: Huey
    deliver_webhook: Any
    sweep_webhooks: Any
    sweep_orphans: Any = None

    def enqueue_encode(self, media_id: str) -> None:
        self.encode_media(media_id)

    def enqueue_deliveries(self, delivery_ids: list[int]) -> None:
        for delivery_id in delivery_ids:
            self.deliver_webhook(delivery_id)

    def schedule_delivery(self, delivery_id: int, delay: float) -> None:
        self.deliver_webhook.schedule(args=(delivery_id,), delay=delay)

    def pending_count(self) -> int:
        return int(self.huey.pending_count())

    def stop_listening(self) -> None:
        """Remove this process's doorbell FIFOs (a consumer that stops; ``vsrc.tasks.doorbell``)."""
        for huey in (self.huey, self.webhooks_huey):
            doorbell = getattr(huey.storage, "doorbell", None)
            if isinstance(doorbell, Doorbell):
                doorbell.close()


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

    @functools.wraps(jobs.deliver_webhook)
    def deliver_webhook(delivery_id: int) -> None:
        jobs.deliver_webhook(runtime, delivery_id)

    @functools.wraps(jobs.sweep_webhooks)
    def sweep_webhooks() -> None:
        jobs.sweep_webhooks(runtime)

    @functools.wraps(jobs.sweep_orphans)
    def sweep_orphans() -> None:
        jobs.sweep_orphans(runtime)

    every = runtime.settings.orphan_sweep_minutes

    def sweep_due(when: datetime) -> bool:
        return every > 0 and (when.hour * 60 + when.minute) % every == 0

    orphans_task = huey.periodic_task(sweep_due)(sweep_orphans)

    webhooks = create_huey(runtime.settings, "vsrc-webhooks")
    return TaskQueue(
        huey=huey,
        encode_media=encode_task,
        requeue_stale=requeue_task,
        webhooks_huey=webhooks,
        deliver_webhook=webhooks.task()(deliver_webhook),
        sweep_webhooks=webhooks.periodic_task(crontab(minute="*"))(sweep_webhooks),
        sweep_orphans=orphans_task,
    )
