"""What the RTMP server needs from the rest of VSRC: a key check and somewhere to put the stream.

Wiring (e.g. to the database and the live HLS packager) implements these two narrow protocols;
the server never imports anything else from VSRC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class PublishGrant:
    """An accepted publish request, created by :meth:`PublishAuthorizer.authorize`.

    ``app`` (e.g. ``"live"``), ``stream_key`` (the publish name without any ``?query``) and
    ``addr`` (the publisher's IP address) echo the request. ``stream_id`` is the authorizer's own
    identifier for the live stream (e.g. ``"live_<uuid>"``); ``attributes`` carries anything else
    the authorizer wants back in :meth:`PublishAuthorizer.on_publish_done` or the sink factory.
    """

    app: str
    stream_key: str
    addr: str
    stream_id: str = ""
    attributes: Mapping[str, object] = field(default_factory=dict)


class PublishAuthorizer(Protocol):
    """Decides who may publish, and hears when a publish ends."""

    async def authorize(self, *, app: str, stream_key: str, addr: str) -> PublishGrant:
        """Return a grant, or raise :class:`vsrc.ingest.rtmp.errors.PublishRejected` (reason shown
        to the publisher as ``NetStream.Publish.BadName``). Should also refuse a key that is
        already publishing."""
        ...

    async def on_publish_done(self, grant: PublishGrant) -> None:
        """Called exactly once per successful :meth:`authorize`, when that publish ends for any
        reason (unpublish, disconnect, crash of the publisher, sink failure, server stop)."""
        ...


class StreamSink(Protocol):
    """Receives one publish as FLV bytes: the FLV header first, then whole tags."""

    async def write(self, data: bytes) -> None:
        """Take the next FLV bytes. Awaiting applies back-pressure to the publisher.

        Raising ends the publish (the connection is closed and the error logged)."""
        ...

    async def close(self) -> None:
        """The publish ended; called exactly once, also after a failed :meth:`write`."""
        ...


class StreamSinkFactory(Protocol):
    """Creates the sink for a granted publish (an ``async def f(grant)`` fits)."""

    async def __call__(self, grant: PublishGrant, /) -> StreamSink:
        """Return a ready sink for ``grant``; raising refuses the publish."""
        ...
