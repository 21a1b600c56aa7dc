"""Wake idle workers the moment a job is queued on the SQLite queue, instead of at their next poll.

Each process that takes jobs from a SQLite queue (a ``vsrc worker``) listens on its own FIFO in
``DATA_DIR/wake/<queue>/``; whoever queues a job (the API, the scheduler, another worker) writes one
byte into every FIFO of that folder after the job's INSERT committed. A listener thread turns the
byte into a wake-up of every consumer thread of its process waiting in ``dequeue``; they query the
queue and one of them gets the job. The queue is still polled every ``VSRC_QUEUE_POLL_SECONDS`` as
a fallback (a ring lost to a full pipe, a FIFO on a filesystem that has none), so an idle worker
costs what it cost before: one indexed SELECT per consumer thread per poll interval.

A FIFO, not a socket: no path-length limit (data dirs can be deep) and a writer learns at once that
nobody listens (``ENXIO``). The listener keeps a write end open itself, so the read end never sees
end-of-file and the writes of an enqueuer never block (``O_NONBLOCK``; a full pipe means "already
rung"). Redis needs none of this: its consumers block in ``BRPOP`` (docs/architecture.md, "Fast start").
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import select
import stat
import threading
import time
from pathlib import Path

__all__ = ["Doorbell", "Listener"]

log = logging.getLogger("vsrc.tasks.doorbell")

SUFFIX = ".fifo"
#: A FIFO nobody reads that is older than this belongs to a dead worker and is removed by the next
#: listener that starts (a younger one may be a worker that is just opening it).
STALE_SECONDS = 60.0


class Listener:
    """This process's FIFO and the thread that turns bytes written to it into ``wait`` returning."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        _sweep(folder)
        self.path = folder / f"{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
        os.mkfifo(self.path, 0o600)
        self._read_fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        # Our own write end: the read end never reports end-of-file while no enqueuer has it open.
        self._keep_fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        self._cond = threading.Condition()
        self._rings = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="queue-doorbell", daemon=True)
        self._thread.start()

    @property
    def rings(self) -> int:
        """How many wake-ups this process received so far (pass it to :meth:`wait`)."""
        with self._cond:
            return self._rings

    def wait(self, seen: int, timeout: float) -> bool:
        """Block until a ring after ``seen`` (True) or ``timeout`` seconds (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._rings != seen or self._closed, timeout)

    def _run(self) -> None:
        while not self._closed:
            try:
                select.select([self._read_fd], [], [])
                data = os.read(self._read_fd, 4096)
            except BlockingIOError:
                continue  # another reader of the same byte (none here) or a spurious wake-up
            except OSError:
                if self._closed:
                    return
                log.exception("queue doorbell %s failed; the queue is polled only", self.path)
                return
            if data:
                with self._cond:
                    self._rings += 1
                    self._cond.notify_all()
                log.debug("queue doorbell rang")

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self.path.unlink(missing_ok=True)
        try:
            os.write(self._keep_fd, b"\0")  # wakes the thread, which then sees _closed
        except OSError:
            pass  # the pipe is full: the thread is awake anyway
        self._thread.join(timeout=5)
        os.close(self._keep_fd)
        os.close(self._read_fd)


class Doorbell:
    """The FIFOs of one queue's folder: ``ring`` them all; ``listener`` creates this process's one."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._listener: Listener | None = None
        self._unavailable = not hasattr(os, "mkfifo")

    def listener(self) -> Listener | None:
        """This process's listener, created on first use (consumers only); None where FIFOs do not exist."""
        with self._lock:
            if self._listener is None and not self._unavailable:
                try:
                    self._listener = Listener(self.folder)
                except OSError as exc:
                    log.warning("no queue doorbell in %s (%s): the queue is polled only", self.folder, exc)
                    self._unavailable = True
            return self._listener

    def ring(self) -> int:
        """Wake every listening process; returns how many FIFOs took the byte. Never raises: a
        worker that is not woken still finds the job at its next poll."""
        rung = 0
        try:
            names = os.listdir(self.folder)
        except OSError:
            return 0  # no worker ever listened here
        for name in names:
            if not name.endswith(SUFFIX):
                continue
            try:
                fd = os.open(self.folder / name, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                continue  # ENXIO: nobody reads it (a dead worker's); ENOENT: just removed
            try:
                os.write(fd, b"\1")
                rung += 1
            except BlockingIOError:
                rung += 1  # the pipe is full of earlier rings: that listener is awake anyway
            except OSError:
                log.warning("could not ring %s", name, exc_info=True)
            finally:
                os.close(fd)
        return rung

    def close(self) -> None:
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None


def _sweep(folder: Path) -> None:
    """Remove FIFOs that nobody reads and that are too old to belong to a starting listener."""
    now = time.time()
    for path in folder.glob(f"*{SUFFIX}"):
        try:
            info = path.lstat()
            if not stat.S_ISFIFO(info.st_mode) or now - info.st_mtime < STALE_SECONDS:
                continue
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                path.unlink(missing_ok=True)
            continue
        os.close(fd)
