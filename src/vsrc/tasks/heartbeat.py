"""The worker's heartbeat row, refreshed by a thread while the consumer runs; ``/health`` reads it."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from vsrc.db.session import transaction
from vsrc.services import heartbeats

if TYPE_CHECKING:
    from vsrc.runtime import Runtime

log = logging.getLogger("vsrc.tasks.heartbeat")


class WorkerHeartbeat:
    """Beats every ``heartbeat_seconds`` with the state ``state()`` returns (``running``, or why the
    worker takes no jobs); the row is removed on a clean stop."""

    def __init__(self, runtime: Runtime, state: Callable[[], str] = lambda: "running") -> None:
        self.runtime, self.state = runtime, state
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-heartbeat", daemon=True)
        self._failing = False

    def start(self) -> None:
        with transaction(self.runtime.sessions) as session:
            heartbeats.forget_long_dead(session)
        self.beat()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.runtime.settings.heartbeat_seconds + 5)
        with transaction(self.runtime.sessions) as session:
            heartbeats.forget(session, instance=self.instance)

    def beat(self) -> None:
        with transaction(self.runtime.sessions) as session:
            heartbeats.beat(
                session,
                kind="worker",
                instance=self.instance,
                host=socket.gethostname(),
                pid=os.getpid(),
                state=self.state(),
            )

    def _run(self) -> None:
        while not self._stop.wait(self.runtime.settings.heartbeat_seconds):
            try:
                self.beat()
            except Exception:  # e.g. a full disk: the row goes stale, which /health reports
                if not self._failing:
                    log.exception("worker heartbeat failed (reported once until it works again)")
                self._failing = True
            else:
                self._failing = False
