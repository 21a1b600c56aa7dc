"""A PATCH body handed to the upload's ``Receiver`` (services/tus_store.py) as it streams in: never
buffered whole, written off the event loop, and kept up to the last byte read when the client goes
away mid-request.

Reading and writing overlap: whatever arrived while the previous write ran is written next, in one
thread hop; reading pauses once ``MAX_PENDING`` bytes wait. About once a second the receiver is told
how long the body has been idle (on S3 a stalled body's bytes are made durable, a flowing one renews
the lease), in the same queue as the writes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import anyio
from anyio import to_thread
from anyio.abc import TaskGroup
from starlette.requests import ClientDisconnect, Request

from vsrc.errors import PayloadTooLarge
from vsrc.services.tus_store import Receiver

log = logging.getLogger("vsrc.api.tus")

MAX_PENDING = 4 * 1024 * 1024  # what one request may hold in memory besides the write in flight
TICK_SECONDS = 1.0


@dataclass
class Appended:
    offset: int  # the upload's durable offset after this request
    disconnected: bool


class _Writer:
    """One background writer per request; errors are kept and re-raised by the reader."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.pending = bytearray()
        self.idle_for: float | None = None  # a tick waiting to be delivered
        self.running = False
        self.idle = anyio.Event()
        self.idle.set()
        self.error: BaseException | None = None

    def feed(self, tasks: TaskGroup, chunk: bytes) -> None:
        self.pending += chunk
        self._run(tasks)

    def tick(self, tasks: TaskGroup, idle_for: float) -> None:
        self.idle_for = idle_for
        self._run(tasks)

    def _run(self, tasks: TaskGroup) -> None:
        if not self.running:
            self.running, self.idle = True, anyio.Event()
            tasks.start_soon(self._drain)

    async def _drain(self) -> None:
        try:
            while (self.pending or self.idle_for is not None) and self.error is None:
                if self.pending:
                    data, self.pending = self.pending, bytearray()
                    await to_thread.run_sync(self.receiver.write, data)
                else:
                    idle_for, self.idle_for = self.idle_for, None
                    assert idle_for is not None
                    await to_thread.run_sync(self.receiver.tick, idle_for)
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
    would otherwise hold the upload until TCP gives up, hours later (tusd does the same)."""

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


async def _ticking(writer: _Writer, tasks: TaskGroup, scope: anyio.CancelScope, last: list[float]) -> None:
    with scope:
        while True:
            await anyio.sleep(TICK_SECONDS)
            writer.tick(tasks, anyio.current_time() - last[0])


async def append_body(
    request: Request, receiver: Receiver, *, writers: Writers, upload_id: str, room: int
) -> Appended:
    """Append the request body through ``receiver``; more than ``room`` bytes → ``PayloadTooLarge``
    with this request's bytes not yet durable dropped again. ``writers.stop(upload_id)`` ends the
    reading early, like a disconnect."""
    writer = _Writer(receiver)
    received = 0
    disconnected = False
    last_byte = [anyio.current_time()]
    async with anyio.create_task_group() as tasks:
        ticks = anyio.CancelScope()
        tasks.start_soon(_ticking, writer, tasks, ticks, last_byte)
        with anyio.CancelScope() as reading, writers.registered(upload_id, reading):
            try:
                async for chunk in request.stream():
                    received += len(chunk)
                    if received > room:
                        break
                    last_byte[0] = anyio.current_time()
                    writer.feed(tasks, chunk)
                    if len(writer.pending) >= MAX_PENDING:
                        await writer.idle.wait()
                    writer.check()
            except ClientDisconnect:
                disconnected = True
        ticks.cancel()
        if reading.cancel_called:
            disconnected = True
            log.info("a newer request of the client took over upload %s", upload_id)
        await writer.idle.wait()
    writer.check()
    if received > room:
        await to_thread.run_sync(receiver.drop)
        raise PayloadTooLarge("The PATCH body goes past Upload-Length")
    offset = await to_thread.run_sync(receiver.keep)
    if disconnected:
        log.info("tus client went away mid-PATCH; the upload holds %d bytes", offset)
    return Appended(offset, disconnected)


async def while_held(receiver: Receiver, work: Callable[[], object]) -> None:
    """Run ``work`` (the completion: probe, store, record) in a thread while the receiver's hold is
    renewed, so that no other request can take the upload and complete it a second time."""

    async def renew(scope: anyio.CancelScope) -> None:
        with scope:
            try:
                while await to_thread.run_sync(receiver.hold):
                    await anyio.sleep(TICK_SECONDS)
            except Exception:  # the completion goes on: failing it for a lease renewal would be worse
                log.warning("could not renew the hold on a completing upload", exc_info=True)

    failed: Exception | None = None
    async with anyio.create_task_group() as tasks:
        renewing = anyio.CancelScope()
        tasks.start_soon(renew, renewing)
        try:
            await to_thread.run_sync(work)
        except Exception as exc:  # raised below as itself, not inside the task group's ExceptionGroup
            failed = exc
        finally:
            renewing.cancel()
    if failed is not None:
        raise failed
