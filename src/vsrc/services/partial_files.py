"""The partial file of a direct upload: created empty, appended to under an exclusive lock, removed.

Its size is the upload's offset (the tus truth). The lock is ``flock`` on the open file: it keeps two
writers (a client's retry racing its own stale request, or two API worker processes) off one
file, and goes away by itself when the holder dies.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from vsrc.errors import InsufficientStorage, Locked, NotFound


def path_for(tmp_dir: Path, upload_id: str) -> Path:
    return tmp_dir / "tus" / f"{upload_id}.part"


def create(path: Path) -> None:
    """An empty partial file (an existing one is left as it is: a retried creation keeps its bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InsufficientStorage("The server has no space left for this upload") from exc
        raise


def open_locked(path: Path) -> int:
    """An append-only descriptor on ``path``, exclusively locked; ``Locked`` if another request writes.

    Never creates the file: a cancelled or expired upload whose file is gone stays gone."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except FileNotFoundError as exc:
        raise NotFound("Upload not found") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        raise Locked("Another request is writing this upload; retry after it ends") from exc
    return fd


def try_lock(path: Path) -> int | None:
    """Like ``open_locked`` but ``None`` when the file is missing or busy (for the expiry sweep)."""
    try:
        return open_locked(path)
    except (NotFound, Locked):
        return None


def size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """Write every byte of ``data`` (``os.write`` may write fewer)."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InsufficientStorage("The server has no space left for this upload") from exc
        raise


def truncate(fd: int, length: int) -> None:
    os.ftruncate(fd, length)


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def close(fd: int) -> None:
    """Close a descriptor from ``open_locked`` (which releases its lock)."""
    os.close(fd)


def size_of(fd: int) -> int:
    return os.fstat(fd).st_size
