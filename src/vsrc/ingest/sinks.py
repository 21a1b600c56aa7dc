"""Ready-made :class:`~vsrc.ingest.interfaces.StreamSink` implementations."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from vsrc.ingest.interfaces import StreamSink

logger = logging.getLogger("vsrc.ingest")


class FileSink:
    """Writes the FLV stream to a file (a recording)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("wb", buffering=1024 * 1024)
        self.bytes_written = 0

    async def write(self, data: bytes) -> None:
        """Append ``data`` to the file."""
        self._file.write(data)
        self.bytes_written += len(data)

    async def close(self) -> None:
        """Flush and close the file."""
        self._file.close()


class ProcessSink:
    """Pipes the FLV stream into a subprocess' stdin, e.g. ``ffmpeg -f flv -i pipe:0 ...``."""

    def __init__(self, process: asyncio.subprocess.Process, *, exit_timeout: float = 30.0) -> None:
        if process.stdin is None:
            raise ValueError("the process needs stdin=asyncio.subprocess.PIPE")
        self.process = process
        self._stdin = process.stdin
        self._exit_timeout = exit_timeout

    async def write(self, data: bytes) -> None:
        """Send ``data`` to the process (raises if it has exited)."""
        self._stdin.write(data)
        await self._stdin.drain()

    async def close(self) -> None:
        """Close stdin (EOF), let the process finish; kill it after ``exit_timeout`` seconds."""
        if not self._stdin.is_closing():
            self._stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), self._exit_timeout)
        except TimeoutError:
            logger.warning("sink process %d did not exit in time; killing it", self.process.pid)
            self.process.kill()
            await self.process.wait()


class TeeSink:
    """Sends the stream to several sinks (e.g. the live packager and a recording file)."""

    def __init__(self, *sinks: StreamSink) -> None:
        self.sinks = sinks

    async def write(self, data: bytes) -> None:
        """Write ``data`` to every sink, in order."""
        for sink in self.sinks:
            await sink.write(data)

    async def close(self) -> None:
        """Close every sink, even if one fails; the first failure is re-raised afterwards."""
        first: BaseException | None = None
        for sink in self.sinks:
            try:
                await sink.close()
            except Exception as exc:
                logger.exception("closing a tee'd sink failed")
                first = first or exc
        if first is not None:
            raise first
