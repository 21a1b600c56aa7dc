"""Periodic housekeeping of one API process, run beside the app for its lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Collection

import anyio
from sqlalchemy.exc import SQLAlchemyError

from vsrc.config import Settings
from vsrc.errors import StorageError
from vsrc.services.housekeeping import sweep_upload_parts
from vsrc.storage import Storage

log = logging.getLogger("vsrc.api.background")


def sweep_interval(settings: Settings) -> float:
    """How often abandoned upload temp files are looked for: a quarter of their maximum age, at
    most every 10 minutes."""
    return min(settings.upload_part_max_age / 4, 600.0)


Keep = Callable[[], Collection[str]] | None


def _sweep_now(settings: Settings, storage: Storage, keep: Keep) -> None:
    sweep_upload_parts(settings.tmp_dir, max_age=settings.upload_part_max_age)
    ended = storage.abort_unfinished(settings.upload_part_max_age, keep)
    if ended:
        log.warning("ended %d abandoned unfinished upload(s) in the storage", ended)


async def _sweep(settings: Settings, storage: Storage, keep: Keep) -> None:
    await anyio.to_thread.run_sync(_sweep_now, settings, storage, keep)


async def _sweep_forever(settings: Settings, storage: Storage, keep: Keep) -> None:
    while True:
        await asyncio.sleep(sweep_interval(settings))
        try:
            await _sweep(settings, storage, keep)
        except (OSError, StorageError, SQLAlchemyError):
            log.exception("sweeping abandoned uploads failed; trying again later")


@contextlib.asynccontextmanager
async def housekeeping(settings: Settings, storage: Storage, keep: Keep = None) -> AsyncIterator[None]:
    """Sweep once before serving, then periodically until the app stops. ``keep()``: the storage
    upload ids of active direct uploads, never ended however long they pause."""
    try:
        await _sweep(settings, storage, keep)
    except (
        StorageError,
        SQLAlchemyError,
    ):  # the bucket or database is down now: serve anyway (the sweep retries), it is only tidying
        log.exception("sweeping abandoned uploads failed; trying again later")
    task = asyncio.create_task(_sweep_forever(settings, storage, keep), name="vsrc-housekeeping")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
