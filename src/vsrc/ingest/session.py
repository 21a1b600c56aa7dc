"""One RTMP connection: handshake, command exchange, publish into a sink, orderly close."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import NoReturn

from vsrc.ingest.config import RtmpServerConfig
from vsrc.ingest.interfaces import PublishAuthorizer, PublishGrant, StreamSink, StreamSinkFactory
from vsrc.ingest.rtmp import messages as msg
from vsrc.ingest.rtmp.amf0 import UNDEFINED
from vsrc.ingest.rtmp.chunks import ChunkReader, ChunkWriter, Message
from vsrc.ingest.rtmp.errors import ProtocolError, PublishRejected
from vsrc.ingest.rtmp.flv import FlvMuxer
from vsrc.ingest.rtmp.handshake import ServerHandshake
from vsrc.ingest.rtmp.messages import MessageType, UserControl

logger = logging.getLogger("vsrc.ingest")

_READ_SIZE = 64 * 1024
_MEDIA_TYPES = frozenset(
    {
        MessageType.AUDIO,
        MessageType.VIDEO,
        MessageType.DATA_AMF0,
        MessageType.DATA_AMF3,
        MessageType.AGGREGATE,
    }
)
_UNPUBLISH_COMMANDS = frozenset({"FCUnpublish", "deleteStream", "closeStream"})


class _Close(Exception):
    """Internal: stop processing input and close the connection in an orderly way."""


def mask_key(key: str) -> str:
    """A stream key for logs (keys are secrets): at most its first quarter, 8 characters at most."""
    return key[: min(8, len(key) // 4)] + "…"


def mask_app(app: str) -> str:
    """An application name for logs: its first path segment only (``live/KEY`` is a common
    misconfiguration that puts the stream key in the app)."""
    head = re.split(r"[/?]", app, maxsplit=1)[0]
    return head if head == app else head + "/…"


class RtmpSession:
    """Serves one TCP connection; :meth:`run` returns when the connection is closed."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        config: RtmpServerConfig,
        authorizer: PublishAuthorizer,
        sink_factory: StreamSinkFactory,
        on_authorized: Callable[[], None] | None = None,
    ) -> None:
        """``on_authorized`` is called once, when the connection's first publish is granted."""
        self._reader, self._writer, self._config = reader, writer, config
        self._authorizer, self._sink_factory = authorizer, sink_factory
        self._on_authorized = on_authorized
        peer = writer.get_extra_info("peername")
        self.addr = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        # Until a publish is authorized, messages are commands of a few hundred bytes.
        self._chunks = ChunkReader(
            max_message_size=config.preauth_max_message_size, max_chunk_streams=config.max_chunk_streams
        )
        self._out = ChunkWriter()
        self._app: str | None = None
        self._next_stream_id = 0
        self._publish_stream_id: int | None = None
        self._grant: PublishGrant | None = None
        self._sink: StreamSink | None = None
        self._muxer = FlvMuxer(rebase_timestamps=config.rebase_timestamps)
        self._deadline: asyncio.TimerHandle | None = None
        self._expired = False

    async def run(self) -> None:
        """Serve the connection until EOF, error, timeout or cancellation; never raises except
        :class:`asyncio.CancelledError`."""
        drain = True
        self._arm_deadline()
        try:
            try:
                async with asyncio.timeout(self._config.handshake_timeout):
                    leftover = await self._handshake()
            except TimeoutError:
                raise _Close("handshake timeout") from None
            await self._process(leftover)
            await self._read_loop()
        except _Close as exc:
            logger.info("rtmp %s: closing: %s", self.peer, exc)
        except ProtocolError as exc:
            logger.warning("rtmp %s: protocol error: %s", self.peer, exc)
        except TimeoutError:
            logger.info("rtmp %s: timed out sending to the peer", self.peer)
        except (ConnectionError, OSError) as exc:
            logger.info("rtmp %s: connection lost: %r", self.peer, exc)
        except asyncio.CancelledError:
            # Only the server's stop() cancels a session: one line, then the publish ends as usual.
            logger.info("rtmp %s: closing: the ingest is stopping", self.peer)
            drain = False
            raise
        except Exception:
            logger.exception("rtmp %s: unexpected error", self.peer)
        finally:
            await self._end_publish()
            self._disarm_deadline()
            await self._close(drain=drain)

    def _arm_deadline(self) -> None:
        """Start the clock: without an authorized publish within ``publish_timeout`` the
        connection is aborted, whatever it is doing (trickling bytes, not reading our replies)."""
        self._disarm_deadline()
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self._config.publish_timeout, self._deadline_passed)

    def _disarm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self) -> None:
        self._deadline = None
        if self._grant is None and not self._writer.is_closing():
            logger.info("rtmp %s: closing: no publish within %g s", self.peer, self._config.publish_timeout)
            self._expired = True
            self._writer.transport.abort()

    async def _handshake(self) -> bytes:
        handshake = ServerHandshake()
        while not handshake.done:
            data = await self._reader.read(_READ_SIZE)
            if not data:
                raise _Close("EOF during handshake")
            reply = handshake.feed(data)
            if reply:
                self._writer.write(reply)
                await self._writer.drain()
        logger.debug("rtmp %s: handshake done", self.peer)
        return handshake.remainder

    async def _read_loop(self) -> None:
        while True:
            try:
                data = await asyncio.wait_for(self._reader.read(_READ_SIZE), self._config.idle_timeout)
            except TimeoutError:
                raise _Close(f"idle timeout ({self._config.idle_timeout:g} s without data)") from None
            if not data:
                if not self._expired:
                    logger.info("rtmp %s: publisher closed the connection", self.peer)
                return
            await self._process(data)

    async def _process(self, data: bytes) -> None:
        self._chunks.push(data)
        # One message at a time: a granted publish raises the size cap for the very next one.
        for message in self._chunks.messages():
            await self._handle(message)
        sequence = self._chunks.ack_due()
        if sequence is not None:
            logger.debug("rtmp %s: acknowledging %d bytes", self.peer, sequence)
            await self._send(msg.acknowledgement(sequence))

    async def _send(self, *messages: Message) -> None:
        for message in messages:
            self._writer.write(self._out.write(message))
        await asyncio.wait_for(self._writer.drain(), self._config.idle_timeout)

    async def _handle(self, message: Message) -> None:
        type_id = message.type_id
        if type_id in _MEDIA_TYPES:
            await self._media(message)
        elif type_id in (MessageType.COMMAND_AMF0, MessageType.COMMAND_AMF3):
            await self._command(msg.parse_command(message), message.stream_id)
        elif type_id == MessageType.USER_CONTROL:
            event, value = msg.parse_user_control(message.payload)
            if event == UserControl.PING_REQUEST:
                await self._send(msg.user_control(UserControl.PING_RESPONSE, value))
        # Set Chunk Size, Abort and Window Ack Size were applied by the chunk reader;
        # Acknowledgements and Set Peer Bandwidth from a publisher need no action.

    async def _media(self, message: Message) -> None:
        if self._sink is None or message.stream_id != self._publish_stream_id:
            logger.debug("rtmp %s: dropping type %d outside a publish", self.peer, message.type_id)
            return
        sink = self._sink
        try:
            parts = self._muxer.mux(message)
        except ProtocolError as exc:
            if message.type_id not in (MessageType.DATA_AMF0, MessageType.DATA_AMF3):
                raise
            logger.warning("rtmp %s: dropping an undecodable data message: %s", self.peer, exc)
            return
        for part in parts:
            try:
                await sink.write(part)
            except Exception as exc:
                logger.exception("rtmp %s: the sink failed", self.peer)
                raise _Close("sink failed") from exc

    async def _command(self, command: msg.Command, stream_id: int) -> None:
        name, tid = command.name, command.transaction_id
        logger.debug("rtmp %s: command %s", self.peer, name)
        if name == "connect":
            await self._connect(command)
        elif self._app is None:
            raise ProtocolError(f"command {name!r} before connect")
        elif name in ("releaseStream", "FCPublish"):
            if tid:
                await self._send(msg.result(tid, None, UNDEFINED))
        elif name == "createStream":
            self._next_stream_id += 1
            await self._send(msg.result(tid, None, float(self._next_stream_id)))
        elif name == "publish":
            await self._publish(command, stream_id or self._next_stream_id or 1)
        elif name in _UNPUBLISH_COMMANDS:
            if self._grant is not None:
                logger.info("rtmp %s: %s", self.peer, name)
            await self._end_publish()
        elif name == "play":
            await self._send(
                msg.on_status(1, "error", "NetStream.Play.Failed", "this server only accepts publishers")
            )
            raise _Close("play is not supported")
        else:
            logger.debug("rtmp %s: ignoring command %r", self.peer, name)

    async def _connect(self, command: msg.Command) -> None:
        if self._app is not None:
            raise ProtocolError("connect sent twice")
        params = command.command_object if isinstance(command.command_object, dict) else {}
        app = params.get("app")
        self._app = app.strip("/") if isinstance(app, str) else ""
        logger.info("rtmp %s: connect app=%r", self.peer, mask_app(self._app))
        cfg = self._config
        await self._send(
            msg.window_ack_size(cfg.window_ack_size),
            msg.set_peer_bandwidth(cfg.peer_bandwidth),
            msg.set_chunk_size(cfg.chunk_size),
        )
        self._out.chunk_size = cfg.chunk_size
        if self._chunks.window_ack_size is None:
            self._chunks.window_ack_size = cfg.window_ack_size
        await self._send(msg.connect_result(command.transaction_id))

    async def _publish(self, command: msg.Command, stream_id: int) -> None:
        if self._grant is not None:
            await self._refuse(stream_id, "NetStream.Publish.BadConnection", "already publishing")
        name = command.arg_str(0) or ""
        key = name.split("?", 1)[0]
        if not key:
            await self._refuse(stream_id, "NetStream.Publish.BadName", "invalid stream key: missing")
        assert self._app is not None
        try:
            grant = await self._authorizer.authorize(app=self._app, stream_key=key, addr=self.addr)
        except PublishRejected as exc:
            logger.info("rtmp %s: publish %s rejected: %s", self.peer, mask_key(key), exc.reason)
            reason = exc.reason or "invalid stream key"
            if "invalid stream key" not in reason.lower():
                reason = f"invalid stream key: {reason}"
            await self._refuse(stream_id, "NetStream.Publish.BadName", reason)
        except Exception:
            logger.exception("rtmp %s: authorizer failed", self.peer)
            await self._refuse(stream_id, "NetStream.Publish.Failed", "internal server error")
        self._grant = grant
        try:
            self._sink = await self._sink_factory(grant)
        except Exception:
            logger.exception("rtmp %s: sink factory failed", self.peer)
            await self._refuse(stream_id, "NetStream.Publish.Failed", "internal server error")
        self._publish_stream_id = stream_id
        self._disarm_deadline()
        self._chunks.max_message_size = self._config.max_message_size
        if self._on_authorized is not None:
            self._on_authorized()
            self._on_authorized = None
        logger.info("rtmp %s: publishing app=%r key=%s", self.peer, mask_app(self._app), mask_key(key))
        await self._send(
            msg.user_control(UserControl.STREAM_BEGIN, stream_id),
            msg.on_status(stream_id, "status", "NetStream.Publish.Start", "Publishing started."),
        )

    async def _refuse(self, stream_id: int, code: str, description: str) -> NoReturn:
        await self._send(msg.on_status(stream_id, "error", code, description))
        raise _Close(f"{code}: {description}")

    async def _end_publish(self) -> None:
        sink, grant = self._sink, self._grant
        self._sink, self._grant, self._publish_stream_id = None, None, None
        if sink is not None:
            try:
                await sink.close()
            except Exception:
                logger.exception("rtmp %s: closing the sink failed", self.peer)
        if grant is not None:
            logger.info("rtmp %s: publish of %s ended", self.peer, mask_key(grant.stream_key))
            try:
                await self._authorizer.on_publish_done(grant)
            except Exception:
                logger.exception("rtmp %s: on_publish_done failed", self.peer)
        self._muxer = FlvMuxer(rebase_timestamps=self._config.rebase_timestamps)
        if grant is not None:  # back to pending: the same deadline and cap as a new connection
            self._chunks.max_message_size = self._config.preauth_max_message_size
            self._arm_deadline()

    async def _close(self, *, drain: bool) -> None:
        """Half-close, read to EOF (so the kernel does not answer unread data with an RST that
        discards what we sent), then close."""
        writer = self._writer
        if writer.is_closing():
            return
        if drain and not self._reader.at_eof():
            try:
                if writer.can_write_eof():
                    writer.write_eof()
                async with asyncio.timeout(self._config.close_timeout):
                    while await self._reader.read(_READ_SIZE):
                        pass
            except (TimeoutError, OSError) as exc:
                logger.debug("rtmp %s: draining before close ended: %r", self.peer, exc)
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 1.0)
        except (TimeoutError, OSError) as exc:
            logger.debug("rtmp %s: wait_closed: %r", self.peer, exc)
