"""HTTP details of viewer delivery (``api/delivery.py``): conditional requests, byte ranges (RFC 9110
§13, §14) and sending a file streamed from storage.

- ``If-None-Match`` (a list, weak tags, ``*``) is compared weakly and makes a 304; ``If-Modified-Since``
  is ignored, as delivery sends no ``Last-Modified`` (the ETag is the validator).
- One byte range is served (206); a range set that is invalid (``last < first``, not numbers, another
  unit, several ranges, which this server does not do) is ignored: 200 with the whole file. A valid one
  that starts past the end is a 416 with ``Content-Range: bytes */size``. ``If-Range`` must name the
  current ETag exactly (a weak tag or a date never matches), else the whole file is sent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import anyio
import anyio.to_thread
from starlette.concurrency import iterate_in_threadpool
from starlette.types import Receive, Scope, Send

from vsrc.errors import VsrcError

log = logging.getLogger("vsrc.api.delivery")
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$", re.IGNORECASE)
# More digits than any file size has; Python refuses to parse numbers of thousands of digits.
_DIGITS = 18
UNSATISFIABLE = "unsatisfiable"


def header(scope: Scope, name: bytes) -> bytes | None:
    return next((v for k, v in scope["headers"] if k == name), None)


def not_modified(scope: Scope, etag: bytes) -> bool:
    """Whether the request's If-None-Match names ``etag`` (weak comparison) or is ``*``."""
    value = header(scope, b"if-none-match")
    if value is None:
        return False
    tags = {tag.strip().removeprefix(b"W/") for tag in value.split(b",")}
    return etag in tags or b"*" in tags


def byte_range(scope: Scope, size: int, etag: bytes) -> tuple[int, int] | str | None:
    """``(start, stop)`` of a single satisfiable ``Range``, ``UNSATISFIABLE``, or None for the whole
    file (no Range, one this server ignores, or an ``If-Range`` that is not ``etag``)."""
    value = header(scope, b"range")
    if value is None:
        return None
    if_range = header(scope, b"if-range")
    if if_range is not None and if_range.strip() != etag:
        return None
    match = _RANGE_RE.match(value.decode("latin-1").strip())
    if match is None:
        return None
    first, last = (digits.lstrip("0") or ("0" if digits else "") for digits in match.groups())
    if first == "":
        if last == "":
            return None
        tail = size if len(last) > _DIGITS else int(last)  # the last ``tail`` bytes
        return (max(size - tail, 0), size) if tail and size else UNSATISFIABLE
    if last != "" and (len(last), last) < (len(first), first):
        return None  # last < first: an invalid range set (RFC 9110 §14.1.1), ignored
    start = int(first) if len(first) <= _DIGITS else size
    if start >= size:
        return UNSATISFIABLE
    stop = size if last == "" or len(last) > _DIGITS else min(int(last) + 1, size)
    return start, stop


async def stream(receive: Receive, send: Send, chunks: Iterator[bytes], length: int, key: str) -> None:
    """Send the ``length`` bytes of ``chunks`` (a stream storage already opened) after the response
    head, reading each chunk in a worker thread.

    A client that goes away stops the reading. Storage that fails or ends before ``length`` bytes
    cannot be answered any more: it is logged once and the response is left incomplete, so the server
    closes the connection — the client sees a broken download, never a short body that looks whole.
    """
    sent = 0
    failure: Exception | None = None
    left: list[bool] = []
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_watch_disconnect, receive, tasks.cancel_scope, left)
            try:
                async for chunk in iterate_in_threadpool(chunks):
                    sent += len(chunk)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except (VsrcError, OSError) as exc:
                failure = exc
            tasks.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_close, chunks)
    if left:
        return
    if failure is None and sent == length:
        await send({"type": "http.response.body", "body": b""})
        return
    why = failure or "the stored file ended early"
    log.warning("stopped sending %s after %d of %d bytes (%s): connection closed", key, sent, length, why)


async def _watch_disconnect(receive: Receive, scope: anyio.CancelScope, left: list[bool]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    left.append(True)
    scope.cancel()


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)  # a generator: closes the file or the S3 response it holds
    if close is not None:
        close()
