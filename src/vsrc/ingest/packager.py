"""The live sink: FLV from the RTMP session → one ffmpeg writing live HLS, plus a recording file.

ffmpeg starts when the FLV header has arrived (its flags say whether there is audio); from then on
a :class:`TeeSink` sends every byte to the recording (a :class:`FileSink`, which writes from a
worker thread) and to ffmpeg's stdin (a :class:`ProcessSink`). The recording becomes a VOD when
the publish ends. No disk work runs on the event loop: one stalled disk must not stall every
other publisher of the ingest (docs/architecture.md, "Live ingest").
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

from vsrc.ingest.sinks import FileSink, ProcessSink, TeeSink
from vsrc.media.live import DEFAULT_LIVE_PROFILE, LiveProfile, build_live_hls_command

log = logging.getLogger("vsrc.ingest.packager")

FLV_HEADER_LEN = 13  # 9-byte header + PreviousTagSize0
FLV_FLAG_AUDIO = 0x04
EXIT_TIMEOUT = 30.0


class LivePackager:
    """A ``StreamSink`` for one publish."""

    def __init__(
        self, *, ffmpeg: str, out_dir: Path, recording: Path, profile: LiveProfile = DEFAULT_LIVE_PROFILE
    ) -> None:
        self.ffmpeg, self.out_dir, self.recording, self.profile = ffmpeg, out_dir, recording, profile
        self.tee: TeeSink | None = None  # recording + ffmpeg, once the FLV header has arrived
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
        await asyncio.to_thread(self._fresh_out_dir)
        argv = build_live_hls_command(
            ffmpeg=self.ffmpeg, out_dir=self.out_dir, has_audio=has_audio, profile=self.profile
        )
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._stderr_task = asyncio.create_task(self._log_stderr(proc))
        log.info("live packager started for %s (audio=%s, pid %d)", self.out_dir.name, has_audio, proc.pid)
        # The recording first: if ffmpeg dies mid-write, the recording still has the tag.
        return TeeSink(FileSink(self.recording), ProcessSink(proc, exit_timeout=EXIT_TIMEOUT))

    def _fresh_out_dir(self) -> None:
        # A new session starts from an empty folder: no segment of the previous one may leak in.
        shutil.rmtree(self.out_dir, ignore_errors=True)
        self.out_dir.mkdir(parents=True)

    async def _log_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        async for line in proc.stderr:
            log.warning("ffmpeg %s: %s", self.out_dir.name, line.decode(errors="replace").rstrip())

    async def close(self) -> None:
        """EOF to ffmpeg (it appends ``#EXT-X-ENDLIST``) and wait for it; write out and close the
        recording."""
        if self.tee is None:
            return
        try:
            await self.tee.close()
        finally:
            if self._stderr_task is not None:
                await self._stderr_task
