"""The publish-only RTMP server: accepts TCP connections and runs one :class:`RtmpSession` each.

Usage::

    server = RtmpServer(authorizer, sink_factory, host="0.0.0.0", port=1935)
    await server.start()
    ...
    await server.stop()

or ``await serve_rtmp("0.0.0.0", 1935, authorizer, sink_factory)`` to run until cancelled.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import Counter
from types import TracebackType

from vsrc.ingest.config import RtmpServerConfig
from vsrc.ingest.interfaces import PublishAuthorizer, StreamSinkFactory
from vsrc.ingest.session import RtmpSession

logger = logging.getLogger("vsrc.ingest")

__all__ = ["RtmpServer", "RtmpServerConfig", "serve_rtmp"]


def address_group(addr: str) -> str:
    """Whom a per-address cap counts a peer as: its IPv4 address, or its IPv6 /64 (one host
    commonly holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return addr
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class RtmpServer:
    """An asyncio TCP server speaking publish-only RTMP."""

    def __init__(
        self,
        authorizer: PublishAuthorizer,
        sink_factory: StreamSinkFactory,
        *,
        host: str = "0.0.0.0",
        port: int = 1935,
        config: RtmpServerConfig | None = None,
    ) -> None:
        self._authorizer = authorizer
        self._sink_factory = sink_factory
        self._host = host
        self._requested_port = port
        self.config = config or RtmpServerConfig()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False  # stop() is cancelling the sessions
        self._pending: Counter[str] = Counter()  # connections without an authorized publish, by group
        self._capped: set[str] = set()  # groups refused since they were last under the cap
        self.refused_connections = 0

    @property
    def port(self) -> int:
        """The bound TCP port (the real one when constructed with port 0); needs :meth:`start`."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("RtmpServer is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def active_sessions(self) -> int:
        """Number of connections being served."""
        return len(self._tasks)

    async def start(self) -> None:
        """Bind and start accepting connections."""
        if self._server is not None:
            raise RuntimeError("RtmpServer already started")
        self._server = await asyncio.start_server(self._on_connection, self._host, self._requested_port)
        logger.info("rtmp server listening on %s:%d", self._host, self.port)

    async def stop(self, timeout: float = 60.0) -> None:
        """Stop accepting, end every session (sinks closed, ``on_publish_done`` called) and wait
        up to ``timeout`` seconds for that (sinks may take a while to finalise)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping = True
        server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            if pending:
                logger.warning("rtmp server: %d sessions did not end within %.1f s", len(pending), timeout)
        await server.wait_closed()
        logger.info("rtmp server stopped")

    async def serve_forever(self) -> None:
        """Start if needed and serve until cancelled; then stop gracefully."""
        if self._server is None:
            await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def __aenter__(self) -> RtmpServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def pending_connections(self, addr: str) -> int:
        """Connections of ``addr``'s group that have no authorized publish yet."""
        return self._pending[address_group(addr)]

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - start_server always runs callbacks in a task
            raise RuntimeError("connection handler outside a task")
        peer = writer.get_extra_info("peername")
        group = address_group(str(peer[0]) if isinstance(peer, tuple) else str(peer))
        if self._server is None or len(self._tasks) >= self.config.max_sessions:
            self._refuse(writer, f"rtmp server: refusing {peer} (stopping or full)")
            return
        if self._pending[group] >= self.config.max_pending_per_ip:
            # One warning per flood, not one per connection: a flood must not fill the log too.
            if group not in self._capped:
                self._capped.add(group)
                cap = self.config.max_pending_per_ip
                logger.warning("rtmp server: %s holds %d unauthorized connections; refusing more", group, cap)
            self._refuse(writer, None)
            return
        self._tasks.add(task)
        self._pending[group] += 1
        pending = True

        def authorized() -> None:
            nonlocal pending
            pending = False
            self._release(group)

        session = RtmpSession(
            reader,
            writer,
            config=self.config,
            authorizer=self._authorizer,
            sink_factory=self._sink_factory,
            on_authorized=authorized,
        )
        logger.info("rtmp %s: connected", session.peer)
        try:
            await session.run()
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # stop() ended the session (its publish and recording are finished by now): end the task
            # normally. A handler task that ends cancelled is logged by asyncio's streams (Python
            # < 3.12) as "Exception in callback ..." with a CancelledError traceback.
            task.uncancel()
        finally:
            self._tasks.discard(task)
            if pending:
                self._release(group)
            logger.info("rtmp %s: disconnected", session.peer)

    def _refuse(self, writer: asyncio.StreamWriter, message: str | None) -> None:
        self.refused_connections += 1
        if message is not None:
            logger.warning("%s", message)
        writer.transport.abort()  # nothing to drain: the peer has not been told anything

    def _release(self, group: str) -> None:
        self._pending[group] -= 1
        if self._pending[group] <= 0:
            del self._pending[group]
        if self._pending[group] < self.config.max_pending_per_ip:
            self._capped.discard(group)


async def serve_rtmp(
    host: str,
    port: int,
    authorizer: PublishAuthorizer,
    sink_factory: StreamSinkFactory,
    *,
    config: RtmpServerConfig | None = None,
) -> None:
    """Run an :class:`RtmpServer` until cancelled (e.g. from ``vsrc ingest``)."""
    server = RtmpServer(authorizer, sink_factory, host=host, port=port, config=config)
    await server.serve_forever()
