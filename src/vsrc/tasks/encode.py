"""The VOD encode job (filled in by the encoding issue; see DESIGN.md §6)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("vsrc.tasks.encode")


def encode_media_task(media_id: str, task: Any = None) -> None:
    """Encode one media item to adaptive HLS. Takes the public id only."""
    from vsrc.tasks.context import worker_context
    from vsrc.tasks.encode_job import run_encode_job

    run_encode_job(worker_context(), media_id, retries_left=getattr(task, "retries", 0))
