"""``vsrc ingest``: one RTMP server process — key checks, live packaging, recordings, heartbeat."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from vsrc.db.session import transaction
from vsrc.ingest.authorizer import DbAuthorizer
from vsrc.ingest.interfaces import PublishGrant
from vsrc.ingest.packager import LivePackager
from vsrc.ingest.server import RtmpServer, RtmpServerConfig
from vsrc.runtime import Runtime
from vsrc.services import live

log = logging.getLogger("vsrc.ingest")


class LiveIngest:
    """The RTMP server wired to the database, the packager and the encode queue."""

    def __init__(self, runtime: Runtime, *, server_id: int, port: int | None = None) -> None:
        self.settings = settings = runtime.settings
        self.ctx = runtime
        self.server_id = server_id
        self.authorizer = DbAuthorizer(runtime, server_id=server_id)
        self.rtmp = RtmpServer(
            self.authorizer,
            self.make_sink,
            host=settings.rtmp_host,
            port=settings.rtmp_port if port is None else port,
            config=RtmpServerConfig(
                publish_timeout=settings.rtmp_publish_timeout,
                max_pending_per_ip=settings.rtmp_max_pending_per_ip,
                preauth_max_message_size=settings.rtmp_preauth_max_message_bytes,
            ),
        )
        self._heartbeat: asyncio.Task[None] | None = None
        self._retry: asyncio.Task[None] | None = None

    async def make_sink(self, grant: PublishGrant) -> LivePackager:
        return LivePackager(
            ffmpeg=self.settings.ffmpeg_path,
            storage=self.ctx.storage,
            prefix=f"hls/{grant.stream_id}",
            recording=Path(str(grant.attributes["recording"])),
        )

    async def start(self) -> None:
        # Opening the storage does I/O (S3: a client, a sweep of dead processes' scratch): not on the loop.
        await asyncio.to_thread(lambda: self.ctx.storage)
        await asyncio.to_thread(self.authorizer.recover)
        await self.rtmp.start()
        await self._beat(online=True)
        self._heartbeat = asyncio.create_task(self._heartbeat_loop())
        self._retry = asyncio.create_task(self._retry_loop())
        log.info("RTMP ingest for server %d listening on port %d", self.server_id, self.rtmp.port)

    async def stop(self) -> None:
        for task in (self._heartbeat, self._retry):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.rtmp.stop()
        await self._beat(online=False)

    async def _beat(self, *, online: bool) -> None:
        def beat() -> None:
            with transaction(self.ctx.sessions) as session:
                live.heartbeat_server(session, server_id=self.server_id, online=online)

        await asyncio.to_thread(beat)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                await self._beat(online=True)
            except Exception:
                log.exception("ingest heartbeat failed")

    async def _retry_loop(self) -> None:
        """Recordings kept after a failed store (database or storage down) are retried while the
        ingest runs, not only at its next start."""
        while True:
            await asyncio.sleep(self.settings.recording_retry_seconds)
            try:
                await self.authorizer.retry_kept()
            except Exception:
                log.exception("retrying kept recordings failed")


async def run_ingest(runtime: Runtime, *, server_id: int) -> None:
    """Serve until SIGINT/SIGTERM."""
    ingest = LiveIngest(runtime, server_id=server_id)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await ingest.start()
    try:
        await stop.wait()
    finally:
        await ingest.stop()
