"""Streaming multipart upload: the file goes to storage as it arrives, counted, never buffered whole."""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
from starlette.requests import ClientDisconnect, Request
from streaming_form_data import ParseFailedException, StreamingFormDataParser
from streaming_form_data.targets import BaseTarget

from vsrc.errors import InsufficientStorage, PayloadTooLarge, ValidationFailed
from vsrc.services.uploads import IncomingSource

log = logging.getLogger("vsrc.api.uploads")

TEXT_FIELDS = ("title", "description", "encodingProfileId", "tags", "playbackPolicy")
MAX_TEXT_FIELD = 64 * 1024  # a form field larger than this is garbage, not a title
MULTIPART_SLACK = 1024 * 1024  # room for boundaries and text fields above the file limit
FEED_BYTES = 2 * 1024 * 1024  # most body bytes queued for the parser thread before reading waits
MIN_BATCH = 512 * 1024  # fewest bytes handed to the parser thread at once (but the first and last)


class _FileTarget(BaseTarget):  # type: ignore[misc]
    """Streams the file part into storage as it arrives and enforces the size limit while streaming."""

    def __init__(self, open_file: Callable[[str | None], IncomingSource], limit: int) -> None:
        super().__init__()
        self.open_file = open_file
        self.limit = limit
        self.size = 0
        self.seen = False
        self.finished = False
        self.source: IncomingSource | None = None

    def on_start(self) -> None:
        if self.seen:
            raise ValidationFailed.field("file", "send exactly one file")
        self.seen = True
        self.source = self.open_file(self.multipart_filename)

    def on_data_received(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise PayloadTooLarge(f"File is larger than the {self.limit} byte limit")
        assert self.source is not None
        self.source.stored.write(chunk)

    def on_finish(self) -> None:
        self.finished = True


class _TextTarget(BaseTarget):  # type: ignore[misc]
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.chunks: list[bytes] = []
        self.size = 0
        self.seen = False

    def on_start(self) -> None:
        if self.seen:
            raise ValidationFailed.field(self.name, f"send {self.name} once")
        self.seen = True

    def on_data_received(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > MAX_TEXT_FIELD:
            raise ValidationFailed.field(self.name, f"{self.name} is far too long")
        self.chunks.append(chunk)

    @property
    def value(self) -> str | None:
        if not self.seen:
            return None
        try:
            return b"".join(self.chunks).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationFailed.field(self.name, "must be UTF-8 text") from exc


@dataclass
class ReceivedUpload:
    """A fully received upload: its file, not yet committed to storage, and the text fields."""

    source: IncomingSource
    size: int
    filename: str | None
    fields: dict[str, str | None] = field(default_factory=dict)

    def discard(self) -> None:
        """Drop the file unless it was committed (blocking I/O: call it off the event loop)."""
        self.source.stored.abort()


async def receive_upload(
    request: Request, *, open_file: Callable[[str | None], IncomingSource], max_bytes: int
) -> ReceivedUpload:
    """Parse the multipart body as it streams in, the file part into ``open_file(filename)`` (called
    off the event loop). On any error what was received is aborted (no object, no partial upload)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise ValidationFailed.field("file", "send the upload as multipart/form-data")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + MULTIPART_SLACK:
        raise PayloadTooLarge(f"File is larger than the {max_bytes} byte limit")

    target = _FileTarget(open_file, max_bytes)
    texts = {name: _TextTarget(name) for name in TEXT_FIELDS}
    received = False
    feeder: _Feeder | None = None
    try:
        parser = StreamingFormDataParser(headers={"Content-Type": content_type})
        parser.register("file", target)
        for name, text in texts.items():
            parser.register(name, text)
        feeder = _Feeder(parser)
        async for chunk in request.stream():
            await feeder.add(chunk)
        await feeder.drain()
        if not target.seen:
            raise ValidationFailed.field("file", "file is required")
        if not target.finished:
            raise ValidationFailed.field("file", "the upload ended before the file part was complete")
        assert target.source is not None
        upload = ReceivedUpload(
            source=target.source,
            size=target.size,
            filename=target.multipart_filename,
            fields={name: text.value for name, text in texts.items()},
        )
        received = True
        return upload
    except ClientDisconnect:
        log.info("client disconnected mid-upload after %d bytes; discarded", target.size)
        raise
    except ParseFailedException as exc:
        raise ValidationFailed.field("file", "malformed multipart body") from exc
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            log.error("upload refused: no space left for it")
            raise InsufficientStorage("The server has no space left for this upload") from exc
        raise
    finally:
        if feeder is not None:
            await feeder.settle()
        # Not abandoned on cancellation (anyio's default): a refused upload is always aborted.
        if not received and target.source is not None:
            await anyio.to_thread.run_sync(target.source.stored.abort)


class _Feeder:
    """Parses (and so writes to storage) in a worker thread while the event loop goes on reading.

    A slow disk must not stall every other request on the loop. One batch is in the thread at a time;
    what arrives meanwhile is queued and handed over next, in one hop. Once ``FEED_BYTES`` are queued,
    reading waits for the thread, so the client is slowed down instead of memory growing.
    (bench/loop.py measures /health latency during an upload.)
    """

    def __init__(self, parser: StreamingFormDataParser) -> None:
        self.parser = parser
        self.batch: list[bytes] = []
        self.queued = 0
        self.job: asyncio.Task[None] | None = None
        self.fed = False

    async def add(self, chunk: bytes) -> None:
        self.batch.append(chunk)
        self.queued += len(chunk)
        busy = self.job is not None and not self.job.done()
        # Hops are not free (~0.1 ms): batches of MIN_BATCH, except the first, so that the temp file
        # exists as soon as the upload starts.
        if (busy and self.queued < FEED_BYTES) or (not busy and self.queued < MIN_BATCH and self.fed):
            return
        self.fed = True
        await self._hand_over()

    async def drain(self) -> None:
        await self._hand_over()  # waits for the batch in the thread, hands over the rest
        await self._hand_over()  # waits for the rest

    async def _hand_over(self) -> None:
        if self.job is not None:
            job, self.job = self.job, None
            await job  # raises what the parser or the disk raised
        if self.batch:
            batch, self.batch, self.queued = self.batch, [], 0
            self.job = asyncio.ensure_future(anyio.to_thread.run_sync(_feed, self.parser, batch))

    async def settle(self) -> None:
        """On any way out: wait until no batch is being written, so the file can be closed."""
        if self.job is not None:
            await asyncio.wait([self.job])
            if not self.job.cancelled():
                self.job.exception()  # consumed: the request already failed for another reason


def _feed(parser: StreamingFormDataParser, chunks: list[bytes]) -> None:
    for chunk in chunks:
        parser.data_received(chunk)
