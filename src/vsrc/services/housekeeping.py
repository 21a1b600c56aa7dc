"""Removing what dead work leaves behind: upload temp files of clients that vanished mid-upload.

A request whose process is killed (SIGKILL, OOM, power loss) never runs its cleanup, so its
``upload-*.part`` stays in the temp folder; the API sweeps them at start and periodically
(docs/architecture.md#failure-modes-and-limits). A live upload writes its file continuously, so a
``.part`` untouched for ``max_age`` seconds belongs to nobody.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

log = logging.getLogger("vsrc.services.housekeeping")

UPLOAD_PART_GLOB = "upload-*.part"


def sweep_upload_parts(tmp_dir: Path, *, max_age: float, now: float | None = None) -> int:
    """Delete ``upload-*.part`` files in ``tmp_dir`` not modified for ``max_age`` seconds; returns
    how many were removed."""
    now = time.time() if now is None else now
    removed = 0
    for path in tmp_dir.glob(UPLOAD_PART_GLOB):
        try:
            if now - path.stat().st_mtime < max_age:
                continue
            path.unlink()
        except FileNotFoundError:
            continue  # finished or swept by another API process meanwhile
        removed += 1
    if removed:
        log.warning("removed %d abandoned upload temp file(s) from %s", removed, tmp_dir)
    return removed
