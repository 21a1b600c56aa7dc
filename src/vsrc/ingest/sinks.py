"""Ready-made :class:`~vsrc.ingest.interfaces.StreamSink` implementations."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import BinaryIO

from vsrc.ingest.interfaces import StreamSink

logger = logging.getLogger("vsrc.ingest")


class FileSink:
    """Writes the FLV stream to a file (a recording) without blocking the event loop.

    :meth:`write` appends to a buffer; one writer task at a time hands what has gathered to a
    worker thread (so a slow or stalled disk never stalls other publishers). :meth:`write` waits
    only while more than ``max_buffer`` bytes are waiting; a disk error is raised by the next
    :meth:`write` or by :meth:`close`. The file (and its folder) is created in the thread too.
    """

    def __init__(self, path: str | Path, *, max_buffer: int = 8 * 1024 * 1024) -> None:
        self.path = Path(path)
        self.bytes_written = 0  # on disk (updated by the worker thread)
        self._max_buffer = max_buffer
        self._buffer = bytearray()
        self._file: BinaryIO | None = None
        self._writer: asyncio.Task[None] | None = None

    async def write(self, data: bytes) -> None:
        """Queue ``data`` for the file; waits while the backlog is over ``max_buffer``."""
        self._raise_failure()
        self._buffer += data
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_out())
        if len(self._buffer) > self._max_buffer:
            await self._wait_writer()

    async def close(self) -> None:
        """Write out the backlog, then close the file (created empty if nothing came)."""
        try:
            await self._wait_writer()
        finally:
            if self._writer is None:  # nothing writes any more (a cancelled wait leaves it running)
                await asyncio.to_thread(self._close_file)

    def _raise_failure(self) -> None:
        if self._writer is not None and self._writer.done():
            writer, self._writer = self._writer, None
            writer.result()  # re-raises the disk error

    async def _wait_writer(self) -> None:
        writer = self._writer
        if writer is not None:
            try:
                # Shielded: a cancelled publisher must not cancel the write-out of its recording.
                await asyncio.shield(writer)
            finally:
                if self._writer is writer and writer.done():
                    self._writer = None

    async def _write_out(self) -> None:
        while self._buffer:
            chunk, self._buffer = bytes(self._buffer), bytearray()
            await asyncio.to_thread(self._write_chunk, chunk)
        # No await between the last check of the buffer and this: write() starts a new task.
        self._writer = None

    def _open(self) -> BinaryIO:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("wb")
        return self._file

    def _write_chunk(self, chunk: bytes) -> None:
        self._open().write(chunk)
        self.bytes_written += len(chunk)

    def _close_file(self) -> None:
        self._open().close()


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
