"""A PATCH body appended to the partial file as it streams in: never buffered whole, written off the
event loop, and kept up to the last byte read when the client goes away mid-request.

Reading and writing overlap: whatever arrived while the previous write ran is written next, in one
thread hop. On an idle disk the file follows the socket closely (a HEAD sees the offset grow); on a
busy one writes batch up, and reading pauses once ``MAX_PENDING`` bytes wait.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import anyio
from anyio import to_thread
from anyio.abc import TaskGroup
from starlette.requests import ClientDisconnect, Request

from vsrc.errors import PayloadTooLarge
from vsrc.services import partial_files

log = logging.getLogger("vsrc.api.tus")

MAX_PENDING = 4 * 1024 * 1024  # what one request may hold in memory besides the write in flight


@dataclass
class Appended:
    written: int
    disconnected: bool


class _Writer:
    """One background writer per request; errors are kept and re-raised by the reader."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending = bytearray()
        self.written = 0
        self.running = False
        self.idle = anyio.Event()
        self.idle.set()
        self.error: BaseException | None = None

    def feed(self, tasks: TaskGroup, chunk: bytes) -> None:
        self.pending += chunk
        if not self.running:
            self.running, self.idle = True, anyio.Event()
            tasks.start_soon(self._drain)

    async def _drain(self) -> None:
        try:
            while self.pending and self.error is None:
                data, self.pending = self.pending, bytearray()
                await to_thread.run_sync(partial_files.write_all, self.fd, data)
                self.written += len(data)
        except Exception as exc:  # handed to the reader, which raises it in the request
            self.error = exc
        finally:
            self.running = False
            self.idle.set()

    def check(self) -> None:
        if self.error is not None:
            raise self.error


class Writers:
    """The PATCHes writing in this process, by upload id, so that a client's new request can stop
    its own stale one: a connection that died without a FIN or RST (a phone changing networks)
    would otherwise hold the upload's lock until TCP gives up, hours later (tusd does the same)."""

    def __init__(self) -> None:
        self._reading: dict[str, anyio.CancelScope] = {}

    @contextlib.contextmanager
    def registered(self, upload_id: str, scope: anyio.CancelScope) -> Iterator[None]:
        self._reading[upload_id] = scope
        try:
            yield
        finally:
            self._reading.pop(upload_id, None)

    def stop(self, upload_id: str) -> bool:
        """Ask the PATCH reading ``upload_id`` to stop (it keeps what it read); False if none here."""
        scope = self._reading.get(upload_id)
        if scope is None:
            return False
        scope.cancel()
        return True


WRITERS = Writers()


async def append_body(request: Request, fd: int, *, upload_id: str, start: int, room: int) -> Appended:
    """Append the request body to ``fd`` (whose size is ``start``); more than ``room`` bytes →
    ``PayloadTooLarge`` with this request's bytes removed again (the upload's offset is unchanged).
    ``WRITERS.stop(upload_id)`` ends the reading early, like a disconnect."""
    writer = _Writer(fd)
    received = 0
    disconnected = False
    async with anyio.create_task_group() as tasks:
        with anyio.CancelScope() as reading, WRITERS.registered(upload_id, reading):
            try:
                async for chunk in request.stream():
                    received += len(chunk)
                    if received > room:
                        break
                    writer.feed(tasks, chunk)
                    if len(writer.pending) >= MAX_PENDING:
                        await writer.idle.wait()
                    writer.check()
            except ClientDisconnect:
                disconnected = True
        if reading.cancel_called:
            disconnected = True
            log.info("a newer request of the client took over upload %s", upload_id)
        await writer.idle.wait()
    writer.check()
    if received > room:
        await to_thread.run_sync(partial_files.truncate, fd, start)
        raise PayloadTooLarge("The PATCH body goes past Upload-Length")
    if disconnected:
        log.info("tus client went away mid-PATCH; kept the %d bytes read", writer.written)
    return Appended(writer.written, disconnected)
