"""uvicorn's HTTP protocol with bounded request heads: size, field count and a read deadline.

uvicorn's httptools protocol buffers a request line and headers without limit and waits for them
forever; h11's ``max_incomplete_event_size`` bounds only the size (with a 400) and would cost the
faster parser. So the head is guarded here, below the ASGI app (docs/architecture.md, "Failure modes
and limits"):

- bytes of an unfinished head are counted as they arrive, before httptools buffers more of them,
  and a parsed head is measured field by field: over ``http_max_header_bytes`` -> 431 and close
  (at most one socket read of slack);
- header fields are counted as httptools reports them: over ``http_max_headers`` -> 431 and close;
- a head must be complete ``http_header_timeout`` seconds after the connection opens (first request)
  or after its first byte (a later request on a kept-alive connection): else 408 and close. Idle
  kept-alive connections stay uvicorn's ``timeout_keep_alive`` business.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from typing import Any, ClassVar, NamedTuple

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from vsrc.config import Settings

log = logging.getLogger("vsrc.api.server")


class HeadLimits(NamedTuple):
    max_bytes: int
    max_fields: int
    timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> HeadLimits:
        return cls(settings.http_max_header_bytes, settings.http_max_headers, settings.http_header_timeout)


@functools.cache
def _limits_from_env() -> HeadLimits:
    from vsrc.config import load_settings

    return HeadLimits.from_settings(load_settings())


class _HeadRefused(Exception):
    """Raised inside a parser callback to stop parsing a head that broke a limit."""


class GuardedHttpProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that refuses oversized, overlong and never-ending request heads."""

    # None: the limits of the environment's settings, which is how `vsrc api` (and each of its
    # uvicorn worker processes) configures it; an in-process server uses ``protocol_for(settings)``.
    limits: ClassVar[HeadLimits | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_limits = type(self).limits or _limits_from_env()
        self.head_bytes = 0  # received while the head is unfinished: bounds what httptools buffers
        self.head_size = 0  # parsed: request target and header fields
        self.head_fields = 0
        self.in_head = True  # a connection starts waiting for its first head
        self.head_timer: asyncio.TimerHandle | None = None
        self.refusal: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.in_head:
            self.head_bytes += len(data)
        super().data_received(data)
        # Still in the head after parsing: every byte of this read was head, now buffered by httptools.
        if self.in_head and self.head_bytes > self.head_limits.max_bytes and not self.transport.is_closing():
            self._refuse(431, "Request header fields too large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head, self.head_bytes, self.head_size, self.head_fields = True, 0, 0, 0
        if self.head_timer is None:
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._parsed(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_fields += 1
        if self.head_fields > self.head_limits.max_fields:
            self._stop("Too many request header fields")
        self._parsed(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.in_head = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def _parsed(self, size: int) -> None:
        """Count the parsed head: a head that arrived whole in one read is measured here."""
        self.head_size += size
        if self.head_size > self.head_limits.max_bytes:
            self._stop("Request header fields too large")

    def _stop(self, refusal: str) -> None:
        self.refusal = refusal
        raise _HeadRefused(refusal)  # httptools turns it into an HttpParserError

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every parser error with a 400; one raised by ``on_header`` above is a 431.
        if self.refusal is not None:
            self._refuse(431, self.refusal)
        else:
            super().send_400_response(msg)

    def _arm_head_timer(self) -> None:
        self.head_timer = self.loop.call_later(self.head_limits.timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if self.transport.is_closing():
            return
        if self.head_bytes:
            self._refuse(408, "The request headers took too long to arrive")
        else:  # nothing sent at all: nobody to answer
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        """Answer with the error envelope and close: the rest of this head is never read."""
        self._cancel_head_timer()
        log.info("refused a request head from %s: %s", self.client, message)
        body = json.dumps({"success": False, "message": message, "errors": []}).encode()
        head = [STATUS_LINE[status]]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def protocol_for(settings: Settings) -> type[GuardedHttpProtocol]:
    """The guarded protocol with ``settings``' limits, for a server built in this process."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), {"limits": HeadLimits.from_settings(settings)})


# What `vsrc api` hands uvicorn: an import string, so that its worker processes can load it too.
PROTOCOL = f"{__name__}:GuardedHttpProtocol"
