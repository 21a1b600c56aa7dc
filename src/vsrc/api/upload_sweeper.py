"""The API process records expired direct uploads and frees their bytes (a partial file on its own
disk; on object storage any API process can free any upload's multipart upload and tail)."""

from __future__ import annotations

import logging

import anyio
from anyio import to_thread

from vsrc.api.deps import AppState
from vsrc.services import direct_uploads

log = logging.getLogger("vsrc.api.upload_sweeper")


async def sweep_forever(state: AppState) -> None:
    """Every ``VSRC_UPLOAD_SWEEP_SECONDS``: mark expired uploads and free their bytes."""
    while True:
        try:
            await to_thread.run_sync(lambda: direct_uploads.sweep_expired(state.sessions, state.tus))
        except Exception:  # a database hiccup must not stop the next sweeps
            log.exception(
                "expired-upload sweep failed; retrying in %s s", state.settings.upload_sweep_seconds
            )
        await anyio.sleep(state.settings.upload_sweep_seconds)
