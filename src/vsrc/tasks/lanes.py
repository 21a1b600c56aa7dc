"""Fast-start priority between the encodes of one worker process.

A worker runs ``VSRC_WORKERS`` encode threads plus ``VSRC_FAST_START_LANES`` extra ones, so a new
upload starts at once even while long encodes run (docs/architecture.md, "Fast start"). Starting
is not enough: sharing two cores with a running ladder, the newcomer would need twice as long for
its first segment. So while an encode is in its *fast-start phase* (ffmpeg started, not every
rung lists a segment yet) the other encodes of this process are paused with ``SIGSTOP`` on their
ffmpeg's process group and continued with ``SIGCONT`` as soon as no encode is in that phase any
more; then the encodes share the machine. A phase lasts at most ``max_pause`` seconds, so a
newcomer that never becomes playable (a broken source, a stuck filesystem) pauses nobody for
long; a running encode, whose viewers may be watching already, loses ~1-3 s per newcomer (the
time to its first segment), which the encode's lead over real time normally absorbs.

SIGSTOP is safe for ffmpeg: it only delays it. A stopped ffmpeg still dies with its worker
(``PR_SET_PDEATHSIG`` delivers SIGKILL, which needs no SIGCONT), and the job's heartbeat thread
keeps running, so a paused encode is not mistaken for a dead one.

Signals go through a pidfd (``os.pidfd_open`` when ffmpeg starts, ``signal.pidfd_send_signal``),
never by number: once ffmpeg exited and its encode thread reaped it, its pid (and process group id)
may go to an unrelated process before the encode closes its lane, and a ``killpg`` would stop that
stranger. A pidfd names the one process it was opened for; signalling it after that process ended
fails with ``ProcessLookupError``. ffmpeg is alone in its process group (it starts no children), so
signalling the process is signalling the group. Where pidfds are missing (Linux < 5.3) nothing is
paused: the encodes share the machine.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

__all__ = ["DEFAULT_MAX_PAUSE", "LANES", "Lane", "Lanes"]

log = logging.getLogger("vsrc.tasks.lanes")

DEFAULT_MAX_PAUSE = 30.0
_NO_PIDFD: list[str] = []  # the first lane that could not open one (the warning is logged once)


class Lane:
    """One encode of this process: its ffmpeg process group and whether it is past fast start."""

    def __init__(self, lanes: Lanes, name: str) -> None:
        self._lanes = lanes
        self.name = name
        self.pidfd: int | None = None  # ffmpeg's, while it runs (module docstring)
        self.fast = True  # in the fast-start phase until playable (or max_pause passed)
        self.paused = False
        self.started = time.monotonic()

    def attach(self, pid: int) -> None:
        """ffmpeg started as ``pid`` (leader of its own process group)."""
        self._lanes._attach(self, pid)

    def playable(self) -> None:
        """Every rung lists a segment: the fast-start phase is over."""
        self._lanes._leave_fast(self)

    def close(self) -> None:
        """The encode ended (any way): never leave it or others stopped."""
        self._lanes._close(self)

    def __enter__(self) -> Lane:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class Lanes:
    """The encodes of one process. Rule: while any lane with an ffmpeg is in its fast-start phase,
    every lane past it is stopped; otherwise all run."""

    def __init__(self, *, max_pause: float = DEFAULT_MAX_PAUSE) -> None:
        self.max_pause = max_pause
        self._lock = threading.Lock()
        self._lanes: list[Lane] = []

    def open(self, name: str) -> Lane:
        lane = Lane(self, name)
        with self._lock:
            self._lanes.append(lane)
        return lane

    def _attach(self, lane: Lane, pid: int) -> None:
        # The caller started ``pid`` and has not waited for it yet, so it is still ffmpeg (a zombie
        # at worst) when the pidfd is opened.
        pidfd = _open_pidfd(pid, lane.name)
        with self._lock:
            _close_pidfd(lane)
            lane.pidfd = pidfd
            lane.started = time.monotonic()
            self._apply()
        if lane.fast:
            timer = threading.Timer(self.max_pause, self._leave_fast, args=(lane,))
            timer.daemon = True
            timer.start()

    def _leave_fast(self, lane: Lane) -> None:
        with self._lock:
            if not lane.fast:
                return
            lane.fast = False
            log.debug("%s: fast start over after %.1f s", lane.name, time.monotonic() - lane.started)
            self._apply()

    def _close(self, lane: Lane) -> None:
        with self._lock:
            if lane in self._lanes:
                self._lanes.remove(lane)
            lane.fast = False
            if lane.paused:
                self._signal(lane, signal.SIGCONT)
            _close_pidfd(lane)
            self._apply()

    def _apply(self) -> None:
        """Stop or continue every lane as the rule says (called with the lock held)."""
        hurry = any(lane.fast and lane.pidfd is not None for lane in self._lanes)
        for lane in self._lanes:
            if lane.pidfd is None:
                continue
            stop = hurry and not lane.fast
            if stop and not lane.paused:
                self._signal(lane, signal.SIGSTOP)
            elif not stop and lane.paused:
                self._signal(lane, signal.SIGCONT)

    @staticmethod
    def _signal(lane: Lane, sig: signal.Signals) -> None:
        assert lane.pidfd is not None
        try:
            signal.pidfd_send_signal(lane.pidfd, sig)
        except ProcessLookupError:
            pass  # ffmpeg already exited (its job notices on its own): nothing left to signal
        lane.paused = sig == signal.SIGSTOP
        log.info("%s: %s", lane.name, "paused for a fast start" if lane.paused else "continued")

    def paused_names(self) -> list[str]:
        with self._lock:
            return [lane.name for lane in self._lanes if lane.paused]


def _open_pidfd(pid: int, name: str) -> int | None:
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return None  # ffmpeg ended already: nothing to pause or continue
    except (OSError, AttributeError) as exc:  # no pidfds (old kernel, not Linux): never pause
        if not _NO_PIDFD:
            log.warning("encodes are not paused for fast starts (%s: no pidfd: %s)", name, exc)
            _NO_PIDFD.append(name)
        return None


def _close_pidfd(lane: Lane) -> None:
    if lane.pidfd is not None:
        os.close(lane.pidfd)
        lane.pidfd = None


#: The encodes of this process (a worker's encode threads share it).
LANES = Lanes()
