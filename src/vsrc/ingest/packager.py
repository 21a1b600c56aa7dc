"""The live sink: FLV from the RTMP session → one ffmpeg writing live HLS, plus a recording file.

ffmpeg starts when the FLV header has arrived (its flags say whether there is audio); from then on
a :class:`TeeSink` sends every byte to the recording (a :class:`FileSink`, which writes from a
worker thread) and to ffmpeg's stdin (a :class:`ProcessSink`). The recording becomes a VOD when
the publish ends. No disk work runs on the event loop: one stalled disk must not stall every
other publisher of the ingest (docs/architecture.md, "Live ingest").

ffmpeg writes into a storage stage for ``hls/ID`` that lives as long as the publish: on local storage
the stored folder itself, on S3 a scratch folder that a :class:`PlaylistWatch` thread publishes each
time ffmpeg rewrites a playlist (segments before the playlist naming them; the sliding window's old
segments deleted). Leaving the stage when the publish ends publishes the final playlists (ENDLIST).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import AbstractContextManager
from pathlib import Path

from vsrc.ingest.sinks import FileSink, ProcessSink, TeeSink
from vsrc.media.live import DEFAULT_LIVE_PROFILE, SOURCE_RUNG, LiveProfile, build_live_hls_command
from vsrc.storage import Storage
from vsrc.storage.base import Stage

log = logging.getLogger("vsrc.ingest.packager")

FLV_HEADER_LEN = 13  # 9-byte header + PreviousTagSize0
FLV_FLAG_AUDIO = 0x04
EXIT_TIMEOUT = 30.0
# How often the playlists are looked at: what a publish adds to the latency of a remote stage.
WATCH_INTERVAL = 0.1


class LivePackager:
    """A ``StreamSink`` for one publish, packaged into the storage prefix ``prefix`` (``hls/ID``)."""

    def __init__(
        self,
        *,
        ffmpeg: str,
        storage: Storage,
        prefix: str,
        recording: Path,
        profile: LiveProfile = DEFAULT_LIVE_PROFILE,
        watch_interval: float = WATCH_INTERVAL,
    ) -> None:
        self.ffmpeg, self.storage, self.prefix = ffmpeg, storage, prefix
        self.recording, self.profile, self.watch_interval = recording, profile, watch_interval
        self.tee: TeeSink | None = None  # recording + ffmpeg, once the FLV header has arrived
        self.stage: Stage | None = None
        self._staging: AbstractContextManager[Stage] | None = None
        self._watch: PlaylistWatch | None = None
        self._pending = b""
        self._stderr_task: asyncio.Task[None] | None = None

    async def write(self, data: bytes) -> None:
        if self.tee is None:
            self._pending += data
            if len(self._pending) < FLV_HEADER_LEN:
                return
            data, self._pending = self._pending, b""
            self.tee = await self._start(has_audio=bool(data[4] & FLV_FLAG_AUDIO))
        await self.tee.write(data)

    async def _start(self, *, has_audio: bool) -> TeeSink:
        # A fresh stage: no segment of the previous session may leak in (the folder clean-up and, on
        # S3, the deletes run in a thread).
        staging = self.storage.stage(self.prefix, fresh=True)
        stage = self.stage = await asyncio.to_thread(staging.__enter__)
        self._staging = staging  # entered: close() leaves it
        argv = build_live_hls_command(
            ffmpeg=self.ffmpeg, out_dir=stage.path, has_audio=has_audio, profile=self.profile
        )
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._stderr_task = asyncio.create_task(self._log_stderr(proc))
        names = [SOURCE_RUNG, *(rung.name for rung in self.profile.rungs)]
        playlists = [stage.path / "master.m3u8", *(stage.path / name / "index.m3u8" for name in names)]
        self._watch = PlaylistWatch(stage, playlists, self.watch_interval, name=f"publish-{self.prefix}")
        log.info("live packager started for %s (audio=%s, pid %d)", self.prefix, has_audio, proc.pid)
        # The recording first: if ffmpeg dies mid-write, the recording still has the tag.
        return TeeSink(FileSink(self.recording), ProcessSink(proc, exit_timeout=EXIT_TIMEOUT))

    async def _log_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        async for line in proc.stderr:
            log.warning("ffmpeg %s: %s", self.prefix, line.decode(errors="replace").rstrip())

    async def close(self) -> None:
        """EOF to ffmpeg (it appends ``#EXT-X-ENDLIST``) and wait for it; write out and close the
        recording; publish the final playlists and leave the stage."""
        try:
            if self.tee is not None:
                await self.tee.close()
        finally:
            if self._stderr_task is not None:
                await self._stderr_task
            await asyncio.to_thread(self._leave_stage)

    def _leave_stage(self) -> None:
        watch, staging = self._watch, self._staging
        self._watch = self._staging = None
        if watch is not None:
            watch.stop()
        if staging is not None:
            # A clean exit whatever ended the publish: what ffmpeg wrote (ENDLIST included) is published.
            staging.__exit__(None, None, None)


class PlaylistWatch:
    """Syncs ``stage`` whenever one of ``playlists`` changes (ffmpeg rewrote it after closing a
    segment), looking every ``interval`` seconds, on a thread of its own: a slow upload delays only
    this publish. A failed sync is logged and retried at the next look."""

    def __init__(self, stage: Stage, playlists: list[Path], interval: float, *, name: str) -> None:
        self.stage, self.playlists, self.interval = stage, playlists, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _marks(self) -> list[tuple[int, int] | None]:
        marks: list[tuple[int, int] | None] = []
        for path in self.playlists:
            try:
                stat = path.stat()
            except FileNotFoundError:
                marks.append(None)
            else:
                marks.append((stat.st_size, stat.st_mtime_ns))
        return marks

    def _run(self) -> None:
        seen: list[tuple[int, int] | None] = []
        while not self._stop.wait(self.interval):
            marks = self._marks()
            if marks == seen:
                continue
            try:
                self.stage.sync()
            except Exception:
                log.exception("publishing live segments of %s failed; retrying", self.stage.path.name)
                continue
            seen = marks

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
