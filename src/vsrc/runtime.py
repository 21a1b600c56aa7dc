"""The composition root: what one VSRC process shares, built once (docs/architecture.md#composition-root).

``vsrc api`` builds one per app (``create_app``), ``vsrc worker`` one for its consumer, ``vsrc ingest``
one for its RTMP server, and each CLI command one for its work. Nothing else creates engines,
storages or queues.
"""

from __future__ import annotations

from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from vsrc.config import Settings, load_settings
from vsrc.db.session import make_engine, make_session_factory
from vsrc.storage import Storage, open_storage
from vsrc.storage.url import StorageLocation
from vsrc.tasks.queue import TaskQueue, build_queue
from vsrc.webhooks import outbox


class Runtime:
    """Settings, the database engine and its sessions, the storage and the task queue of one process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: Engine = make_engine(settings.sqlalchemy_url)
        self.sessions: sessionmaker[Session] = make_session_factory(self.engine)
        # Webhook events committed by this process go to the queue right after their commit.
        outbox.attach(self.sessions, public_url=settings.public_url, notify=self._queue_deliveries)

    @cached_property
    def storage(self) -> Storage:
        return open_storage(self.settings.storage_location, scratch=self.settings.scratch_dir)

    def storage_at(self, location: StorageLocation) -> Storage:
        """A storage other than the configured one (the target of ``vsrc storage migrate``)."""
        return open_storage(location, scratch=self.settings.scratch_dir)

    @cached_property
    def queue(self) -> TaskQueue:
        """The queue with VSRC's tasks bound to this runtime (created on first use: most CLI
        commands never need it)."""
        return build_queue(self)

    def _queue_deliveries(self, delivery_ids: list[int]) -> None:
        self.queue.enqueue_deliveries(delivery_ids)

    def close(self) -> None:
        self.engine.dispose()


def runtime_from_env() -> Runtime:
    """A runtime for the settings in the environment; raises ``ConfigError`` on bad settings."""
    return Runtime(load_settings())
