"""Free space where VSRC writes (the data folder: database, queue, temp uploads; and the storage), and
the ``VSRC_MIN_FREE_BYTES`` watermark below which workers take no jobs and the API refuses writes
(docs/architecture.md#failure-modes-and-limits)."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from vsrc.config import Settings
from vsrc.storage.url import FileLocation

NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_no_space(exc: BaseException) -> bool:
    """An ``OSError`` (or one it was raised from) saying the disk or the quota is full."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


def watched_paths(settings: Settings) -> list[Path]:
    """The folders whose filesystems must keep free space (existing ones, deduplicated). On S3 the
    data folder only: it still holds the scratch copies of uploads."""
    paths: list[Path] = []
    local_storage = isinstance(settings.storage_location, FileLocation)
    for path in (settings.data_dir, *([settings.storage_root] if local_storage else [])):
        while not path.exists() and path != path.parent:
            path = path.parent
        if path not in paths:
            paths.append(path)
    return paths


def lowest_free(settings: Settings) -> tuple[Path, int]:
    """The watched folder with the least free space, and how many bytes are free there."""
    return min(((p, shutil.disk_usage(p).free) for p in watched_paths(settings)), key=lambda pf: pf[1])


def low_space_reason(settings: Settings) -> str | None:
    """Why writes should stop now (free space under the watermark), or None."""
    _path, free = lowest_free(settings)
    if free >= settings.min_free_bytes:
        return None
    # No path: /health is public.
    return f"low disk space: {free} bytes free (minimum {settings.min_free_bytes})"
