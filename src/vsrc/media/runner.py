"""Run ffmpeg as a subprocess with progress, timeout and error classification.

The process runs in its own session (process group). On timeout, on an exception raised by the
``on_progress`` callback, or on ``KeyboardInterrupt``/``SystemExit`` in the calling thread, the
whole group is killed with SIGKILL before the exception propagates, so no ffmpeg is left
behind. SIGKILL (not SIGTERM) is deliberate: a terminated ffmpeg finalises its HLS output and
appends ``#EXT-X-ENDLIST``, which would make a half-encoded video look complete; a killed one
leaves EVENT playlists without ENDLIST and the retry starts clean.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import IO

from vsrc.media.errors import EncodeError
from vsrc.media.progress import ProgressParser

__all__ = ["PERMANENT_PATTERNS", "classify_failure", "run_encode", "source_lost"]

#: stderr fragments (case-insensitive) that mean the input itself is unusable: retrying the same
#: file cannot succeed, so the job fails for good.
PERMANENT_PATTERNS: tuple[str, ...] = (
    "invalid data found when processing input",
    "moov atom not found",
    "does not contain any stream",
    "could not find codec parameters",
    "no decoder found",
    "decoder not found",
    "unknown decoder",
    "ebml header parsing failed",
    "matches no streams",
    "error opening input",
    "invalid frame dimensions",
    "corrupt input packet",
)

#: stderr fragments that mean a source URL could not be read (connection refused or dropped, an
#: HTTP error answer): not a verdict on the file, so a retry may succeed. Checked before
#: ``PERMANENT_PATTERNS`` ("error opening input" follows them).
SOURCE_READ_PATTERNS: tuple[str, ...] = (
    "server returned",
    "http error",
    "connection refused",
    "connection reset",
    "connection timed out",
    "network is unreachable",
)

_INVALID_INPUT_MESSAGE = (
    "The source video could not be decoded: the file is corrupt, truncated or not a supported video."
)

# A presigned source URL: its query string is a credential; never copied into a message.
_URL_RE = re.compile(r"https?://\S+")
_URL_QUERY_RE = re.compile(r"(https?://[^\s?]+)\?[^\s]*")
_PATH_RE = re.compile(r"(?:file:)?(?:/[\w.\-+%@]+){2,}/?")
_NOISE_RE = re.compile(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*")


def source_lost(stderr_tail: str) -> str | None:
    """The stderr line showing that ffmpeg's input URL stopped before its end (the server answered an
    error on a reconnect, or the last reconnect attempt failed), else None. A reconnect that worked
    leaves only "Will reconnect at …" behind, with no failure after it."""
    failed: str | None = None
    for line in stderr_tail.splitlines():
        lowered = line.lower()
        if "will reconnect at" in lowered:
            failed = None  # a new attempt: only what follows the last one counts
        elif "http error" in lowered or "failed to reconnect" in lowered or "server returned" in lowered:
            return line
        elif any(p in lowered for p in SOURCE_READ_PATTERNS):
            failed = line
    return failed


def redact_urls(text: str) -> str:
    """``text`` with the query strings of URLs removed: a presigned URL's query is a credential
    (ffmpeg names its input in errors; stderr goes to logs)."""
    return _URL_QUERY_RE.sub(r"\1?…", text)


def _clean(line: str) -> str:
    line = _NOISE_RE.sub("", line.strip())
    line = _URL_RE.sub("<source URL>", line)
    return _PATH_RE.sub("<file>", line)


def classify_failure(returncode: int, stderr_tail: str, *, timed_out: bool = False) -> tuple[str, bool]:
    """(human-readable message, permanent) for a failed ffmpeg run."""
    if timed_out:
        return "Encoding took too long and was stopped (timeout).", False
    lowered = stderr_tail.lower()
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"Encoding was interrupted (ffmpeg killed by {name}).", False
    if any(p in lowered for p in SOURCE_READ_PATTERNS):
        return f"The source could not be read from storage{_last_line(stderr_tail)}", False
    if any(p in lowered for p in PERMANENT_PATTERNS):
        return _INVALID_INPUT_MESSAGE, True
    if returncode == 255 and "received signal" in lowered:
        return "Encoding was interrupted (ffmpeg received a stop signal).", False
    return f"ffmpeg exited with code {returncode}{_last_line(stderr_tail)}", False


def _last_line(stderr_tail: str) -> str:
    """``": LINE"``: the last meaningful stderr line, cleaned of paths and URLs; "" when none."""
    for line in reversed(stderr_tail.splitlines()):
        cleaned = _clean(line)
        if cleaned and not cleaned.lower().startswith(("conversion failed", "error opening input file")):
            return f": {cleaned[:300]}"
    return ""


_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    # Resolved once in the parent: dlopen() in a child forked from a threaded worker can deadlock.
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return fn


_PRCTL = _load_prctl()


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it when the worker dies (even by SIGKILL), so an
    orphaned ffmpeg never keeps writing into a folder that the retry is about to reuse (Linux).

    Note: Linux delivers the signal when the *thread* that forked exits, so call
    :func:`run_encode` from a long-lived thread (the main thread or a pool worker), not from a
    thread that ends while ffmpeg should keep running."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass


def run_encode(
    argv: Sequence[str],
    *,
    duration: float,
    on_progress: Callable[[int], None] | None,
    timeout: float,
    stderr_log_path: str | os.PathLike[str] | None = None,
    logger: logging.Logger | None = None,
    tail_lines: int = 50,
    on_start: Callable[[int], None] | None = None,
) -> None:
    """Run ``argv`` (an ffmpeg command writing ``-progress pipe:1``) to completion.

    ``on_progress(percent)`` is called in this thread with an integer 1..100 each time the
    percentage (relative to ``duration`` seconds) rises; 100 is reported only after ffmpeg
    exited successfully. stderr lines go to ``stderr_log_path`` (appended) and/or ``logger``
    (DEBUG), and the last ``tail_lines`` are kept.

    Raises :class:`EncodeError` on a non-zero exit: ``permanent=True`` when stderr shows the input
    is invalid/undecodable (see :data:`PERMANENT_PATTERNS`), ``permanent=False`` when killed by a
    signal, on timeout (``timeout`` seconds of wall time) or for other failures.
    Commands without ``-progress`` (poster, storyboard) can be run too, with ``duration=0``.
    ``on_start(pid)`` is called once ffmpeg runs; its pid is also its process group id (the worker
    pauses and continues whole encodes by group, see ``vsrc.tasks.lanes``).
    """
    tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
    parser = ProgressParser(duration)
    reported = 0
    timed_out = threading.Event()
    log_file: IO[str] | None = None
    if stderr_log_path is not None:
        log_file = open(stderr_log_path, "a", encoding="utf-8", errors="replace")

    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_die_with_parent if _PRCTL is not None else None,
    )

    def read_stderr() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = redact_urls(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
            tail.append(line)
            if log_file is not None:
                log_file.write(line + "\n")
            if logger is not None:
                logger.debug("ffmpeg: %s", line)

    def on_timeout() -> None:
        timed_out.set()
        _kill_group(proc)

    stderr_thread = threading.Thread(target=read_stderr, name="ffmpeg-stderr", daemon=True)
    stderr_thread.start()
    timer = threading.Timer(timeout, on_timeout)
    timer.daemon = True
    timer.start()
    try:
        if on_start is not None:
            on_start(proc.pid)
        assert proc.stdout is not None
        for raw in proc.stdout:
            parser.feed_line(raw.decode("utf-8", errors="replace"))
            pct = min(parser.percent, 99)
            if pct > reported:
                reported = pct
                if on_progress is not None:
                    on_progress(pct)
        returncode = proc.wait()
    finally:
        timer.cancel()
        _kill_group(proc)
        proc.wait()
        stderr_thread.join(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        if log_file is not None:
            log_file.close()

    stderr_tail = "\n".join(tail)
    if returncode == 0 and (lost := source_lost(stderr_tail)):
        # ffmpeg takes an input it could not read to its end for a shorter input and exits 0.
        message = f"The source could not be read from storage to its end: {_clean(lost)[:300]}"
        if logger is not None:
            logger.warning("ffmpeg lost its input: %s\n%s", message, stderr_tail)
        raise EncodeError(message, permanent=False, stderr_tail=stderr_tail, returncode=returncode)
    if returncode == 0:
        if reported < 100 and on_progress is not None:
            on_progress(100)
        return
    message, permanent = classify_failure(returncode, stderr_tail, timed_out=timed_out.is_set())
    if logger is not None:
        logger.warning("ffmpeg failed (exit %s): %s\n%s", returncode, message, stderr_tail)
    raise EncodeError(message, permanent=permanent, stderr_tail=stderr_tail, returncode=returncode)
