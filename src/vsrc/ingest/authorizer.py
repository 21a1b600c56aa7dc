"""The database-backed ``PublishAuthorizer``: stream-key check on publish, recording → VOD after."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from vsrc.db.session import transaction
from vsrc.errors import PublishDenied
from vsrc.ingest.interfaces import PublishGrant
from vsrc.ingest.rtmp.errors import PublishRejected
from vsrc.ingest.session import mask_key
from vsrc.services import live, recordings
from vsrc.timeutil import utcnow

if TYPE_CHECKING:
    from vsrc.runtime import Runtime

log = logging.getLogger("vsrc.ingest")


def recording_path(recordings_dir: Path, stream_id: str) -> Path:
    """Where a session of ``stream_id`` (``live_…``) is recorded; named by id, not by the key, which
    can be reset mid-broadcast (and should not sit in file names)."""
    return recordings_dir / f"{stream_id}-{utcnow().strftime('%Y%m%dT%H%M%S%f')}.flv"


def stream_of_recording(path: Path) -> str:
    return path.stem.rsplit("-", 1)[0]


class DbAuthorizer:
    """Checks keys against the live_streams table for one RTMP server; finalises recordings."""

    def __init__(self, runtime: Runtime, *, server_id: int) -> None:
        self.ctx, self.server_id = runtime, server_id
        # One folder per ingest server: a restarting ingest only recovers its own recordings.
        self.recordings_dir = runtime.settings.data_dir / "recordings" / str(server_id)
        self.active: set[str] = set()
        # Recordings being written or stored now (touched on the event loop only): the periodic retry
        # of kept recordings leaves them alone.
        self.busy: set[Path] = set()
        self._lock = asyncio.Lock()

    async def authorize(self, *, app: str, stream_key: str, addr: str) -> PublishGrant:
        async with self._lock:  # two publishers racing for one key: exactly one wins
            try:
                public_id = await asyncio.to_thread(self._authorize, app, stream_key)
            except PublishDenied as exc:
                log.info("publish refused from %s (%s): %s", addr, mask_key(stream_key), exc.message)
                raise PublishRejected(exc.message) from exc
            self.active.add(stream_key)
        log.info("publish accepted from %s for %s", addr, public_id)
        path = recording_path(self.recordings_dir, public_id)
        self.busy.add(path)
        return PublishGrant(app, stream_key, addr, stream_id=public_id, attributes={"recording": str(path)})

    def _authorize(self, app: str, stream_key: str) -> str:
        with transaction(self.ctx.sessions) as session:
            stream = live.authorize_publish(
                session,
                app=app,
                stream_key=stream_key,
                server_id=self.server_id,
                active_here=frozenset(self.active),
            )
            return stream.public_id

    async def on_publish_done(self, grant: PublishGrant) -> None:
        self.active.discard(grant.stream_key)
        recording = Path(str(grant.attributes["recording"]))
        try:
            await asyncio.to_thread(self.finish, grant.stream_id, recording)
        finally:
            self.busy.discard(recording)

    def finish(self, stream_id: str, recording: Path) -> None:
        """Mark the stream ended and turn its recording into a VOD that is queued for encoding. A
        stream deleted meanwhile leaves nothing: its live objects (published after the delete by the
        last syncs of the publish) go too."""
        with transaction(self.ctx.sessions) as session:
            stream = live.end_publish(session, public_id=stream_id)
        if stream is None:
            self.ctx.storage.delete_prefix(f"hls/{stream_id}")
        try:
            self.store_recording(stream_id, recording)
        except Exception:  # kept on disk: retried every VSRC_RECORDING_RETRY_SECONDS
            log.exception("recording %s kept: storing it as a VOD failed", recording.name)

    def store_recording(self, stream_id: str, recording: Path) -> None:
        """Store ``recording`` as a VOD and queue its encode; raises (keeping the file) on failure."""
        if not recording.exists():
            return
        media = recordings.record_to_vod(
            self.ctx.sessions, self.ctx.storage, stream_id=stream_id, recording=recording
        )
        if media is not None:
            self.ctx.queue.enqueue_encode(media.public_id)
            log.info("recording of %s stored as %s", stream_id, media.public_id)

    def kept(self) -> list[Path]:
        """Recordings on disk (those of running publishes included: see ``busy``)."""
        return sorted(self.recordings_dir.glob("*.flv"))

    def recover(self) -> None:
        """After a crash: end streams left ``live`` on this server and keep their partial recordings."""
        with transaction(self.ctx.sessions) as session:
            ended = live.end_all_live(session, server_id=self.server_id)
        for stream_id in ended:
            log.warning("stream %s was left live by a previous run; ended", stream_id)
        for leftover in self.recordings_dir.glob(".*.storing"):
            leftover.unlink()  # a second name of a recording that is still there (services/recordings.py)
        for path in self.kept():
            self.retry(path)

    def retry(self, path: Path) -> bool:
        """One more attempt at a kept recording; False (logged, file kept) when it failed again."""
        try:
            self.store_recording(stream_of_recording(path), path)
        except Exception:  # kept on disk for the next attempt; one bad recording must not stop ingest
            log.exception("recording %s kept: storing it as a VOD failed", path.name)
            return False
        return True

    async def retry_kept(self) -> int:
        """Store the recordings that earlier attempts kept (a database or storage outage), off the
        event loop and never one that a publish is still writing or storing. Returns how many
        were stored (or dropped as unwanted)."""
        stored = 0
        for path in await asyncio.to_thread(self.kept):
            if path in self.busy:
                continue
            self.busy.add(path)
            try:
                stored += await asyncio.to_thread(self.retry, path)
            finally:
                self.busy.discard(path)
        return stored
