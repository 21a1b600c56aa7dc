"""Periodic housekeeping of one API process, run beside the app for its lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import anyio

from vsrc.config import Settings
from vsrc.services.housekeeping import sweep_upload_parts

log = logging.getLogger("vsrc.api.background")


def sweep_interval(settings: Settings) -> float:
    """How often abandoned upload temp files are looked for: a quarter of their maximum age, at
    most every 10 minutes."""
    return min(settings.upload_part_max_age / 4, 600.0)


async def _sweep(settings: Settings) -> None:
    await anyio.to_thread.run_sync(
        lambda: sweep_upload_parts(settings.tmp_dir, max_age=settings.upload_part_max_age)
    )


async def _sweep_forever(settings: Settings) -> None:
    while True:
        await asyncio.sleep(sweep_interval(settings))
        try:
            await _sweep(settings)
        except OSError:
            log.exception("sweeping upload temp files failed; trying again later")


@contextlib.asynccontextmanager
async def housekeeping(settings: Settings) -> AsyncIterator[None]:
    """Sweep once before serving, then periodically until the app stops."""
    await _sweep(settings)
    task = asyncio.create_task(_sweep_forever(settings), name="vsrc-housekeeping")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
