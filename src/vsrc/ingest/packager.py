"""The live sink: FLV from the RTMP session → one ffmpeg writing live HLS, plus a recording file.

ffmpeg starts when the FLV header has arrived (its flags say whether there is audio); every byte
also goes to the recording, which becomes a VOD when the publish ends.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from typing import IO

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
        self._pending = b""
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr_task: asyncio.Task[None] | None = None
        self._file: IO[bytes] | None = None

    async def write(self, data: bytes) -> None:
        if self._proc is None:
            self._pending += data
            if len(self._pending) < FLV_HEADER_LEN:
                return
            data, self._pending = self._pending, b""
            await self._start(has_audio=bool(data[4] & FLV_FLAG_AUDIO))
        assert self._proc is not None and self._proc.stdin is not None and self._file is not None
        self._file.write(data)
        self._proc.stdin.write(data)
        await self._proc.stdin.drain()

    async def _start(self, *, has_audio: bool) -> None:
        # A new session starts from an empty folder: no segment of the previous one may leak in.
        shutil.rmtree(self.out_dir, ignore_errors=True)
        self.out_dir.mkdir(parents=True)
        self.recording.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.recording, "wb")
        argv = build_live_hls_command(
            ffmpeg=self.ffmpeg, out_dir=self.out_dir, has_audio=has_audio, profile=self.profile
        )
        self._proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._stderr_task = asyncio.create_task(self._log_stderr())
        log.info(
            "live packager started for %s (audio=%s, pid %d)", self.out_dir.name, has_audio, self._proc.pid
        )

    async def _log_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        async for line in self._proc.stderr:
            log.warning("ffmpeg %s: %s", self.out_dir.name, line.decode(errors="replace").rstrip())

    async def close(self) -> None:
        """EOF to ffmpeg (it appends ``#EXT-X-ENDLIST``), wait for it, close the recording."""
        try:
            if self._proc is not None:
                assert self._proc.stdin is not None
                if not self._proc.stdin.is_closing():
                    self._proc.stdin.close()
                try:
                    await asyncio.wait_for(self._proc.wait(), EXIT_TIMEOUT)
                except TimeoutError:
                    log.warning("live packager of %s did not exit; killed", self.out_dir.name)
                    self._proc.kill()
                    await self._proc.wait()
                if self._stderr_task is not None:
                    await self._stderr_task
        finally:
            if self._file is not None:
                self._file.close()
