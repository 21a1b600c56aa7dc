"""When an encode becomes playable: every rung's playlist lists a segment (docs/architecture.md,
"Fast start").

The moment is detected on the segments themselves, not on ffmpeg's progress reports: a thread reads the
rungs' playlists every :data:`POLL_SECONDS` from ffmpeg's start until they all list a segment, then
stops. Progress reports come every 0.5 s at best and the job acts on them only when the whole-number
percentage rises, i.e. every ``duration / 100`` seconds of content: 6 s of video for a 10-minute
source, while its first segment is 1 s long. The poll reads a few small files ~20 times a second for
the ~1-3 s of the fast-start phase (measured in docs/benchmarks.md, "Fast start").

Once playable: the stage is synced (on S3 the segments and playlists that made it playable are
published first), the worker's other encodes may continue (``vsrc.tasks.lanes``), and
``media.playable`` is recorded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from vsrc.media.playlists import every_rung_lists_a_segment
from vsrc.storage.base import Stage
from vsrc.tasks.lanes import Lane

__all__ = ["POLL_SECONDS", "PlayableWatch"]

log = logging.getLogger("vsrc.tasks.encode")

POLL_SECONDS = 0.05


class PlayableWatch:
    """Calls ``announce()`` once, as soon as every rung in ``rung_names`` under the stage lists a segment."""

    def __init__(
        self,
        name: str,
        hls: Stage,
        rung_names: list[str],
        announce: Callable[[], None],
        *,
        poll: float = POLL_SECONDS,
    ) -> None:
        self.name, self.hls, self.rung_names, self.announce, self.poll = name, hls, rung_names, announce, poll
        self.lane: Lane | None = None
        self.done = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()

    def start(self) -> None:
        """ffmpeg runs: watch its playlists on a thread until playable (or :meth:`stop`)."""
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"playable-{self.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        checks = 0
        try:
            while not self._stop.wait(self.poll):
                checks += 1
                if self.check():
                    break
        except Exception:
            # The progress reports and the end of the encode check again.
            log.exception("encode %s: playable check failed", self.name)
        cpu_ms = time.thread_time() * 1000
        log.info("encode %s: playable watch ended after %d checks, %.1f ms CPU", self.name, checks, cpu_ms)

    def check(self) -> bool:
        """Whether playable (announced now or before); safe from any thread."""
        with self._lock:
            if self.done:
                return True
            if not every_rung_lists_a_segment(self.hls.path, self.rung_names):
                return False
            self.hls.sync()  # published before announced (after the look, so it covers what was seen)
            self.done = True
        took = time.monotonic() - self._started
        log.info("encode %s: playable %.2f s after ffmpeg started", self.name, took)
        if self.lane is not None:
            self.lane.playable()
        self.announce()
        return True

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
