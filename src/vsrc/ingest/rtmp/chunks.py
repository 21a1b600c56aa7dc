"""RTMP chunk stream (RTMP spec 5.3): an incremental reader (bytes -> messages) and a writer.

Timestamp rules, the ones pyrtmp got wrong (DESIGN §8):

* fmt 0 carries the absolute timestamp; it also becomes the chunk stream's *delta*, so a type-3
  chunk right after it that starts a new message adds that value (spec 5.3.1.2.4).
* fmt 1 and fmt 2 carry a delta that is added to the previous message's timestamp.
* a type-3 chunk that starts a new message adds the previous *delta*.
* whenever the 3-byte field is 0xFFFFFF a 4-byte extended value follows the message header, and
  every type-3 chunk of that chunk stream repeats it (continuation chunks included) until a
  fmt 0/1/2 header without an extended value. (A continuation chunk whose 4 bytes do not repeat
  the value is read as if the encoder had left the field out, as some do.)

The reader applies Set Chunk Size, Abort and Window Acknowledgement Size itself (they change how
the following bytes are read) and still returns them, like every other message.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from vsrc.ingest.rtmp.errors import ProtocolError

DEFAULT_CHUNK_SIZE: Final = 128
MAX_CHUNK_SIZE: Final = 0x7FFFFFFF
DEFAULT_MAX_MESSAGE_SIZE: Final = 16 * 1024 * 1024
DEFAULT_MAX_CHUNK_STREAMS: Final = 64
EXTENDED: Final = 0xFFFFFF
_HEADER_SIZES: Final = (11, 7, 3, 0)

MSG_SET_CHUNK_SIZE: Final = 1
MSG_ABORT: Final = 2
MSG_WINDOW_ACK_SIZE: Final = 5


@dataclass(frozen=True, slots=True)
class Message:
    """One reassembled RTMP message. ``timestamp`` is absolute, in milliseconds, modulo 2**32."""

    csid: int
    type_id: int
    stream_id: int
    timestamp: int
    payload: bytes


@dataclass(slots=True)
class _StreamState:
    timestamp: int = 0
    delta: int = 0
    length: int = 0
    type_id: int = 0
    stream_id: int = 0
    extended: bool = False
    ext_value: int = 0  # extended field of the message's first chunk
    partial: bytearray | None = None  # payload of the message in progress


class ChunkReader:
    """Feed received bytes with :meth:`feed` (or :meth:`push` + :meth:`messages`); complete
    messages come back in order."""

    def __init__(
        self,
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_chunk_streams: int = DEFAULT_MAX_CHUNK_STREAMS,
    ) -> None:
        self.max_message_size = max_message_size
        self.max_chunk_streams = max_chunk_streams
        self.chunk_size = DEFAULT_CHUNK_SIZE
        self.window_ack_size: int | None = None
        self.bytes_received = 0
        self._last_ack = 0
        self._buffer = bytearray()
        self._streams: dict[int, _StreamState] = {}
        self._pending_bytes = 0

    def feed(self, data: bytes) -> list[Message]:
        """Consume ``data``; return the messages it completes. Raises :class:`ProtocolError`."""
        self.push(data)
        return list(self.messages())

    def push(self, data: bytes) -> None:
        """Buffer received bytes; :meth:`messages` parses them."""
        self.bytes_received += len(data)
        self._buffer += data

    def messages(self) -> Iterator[Message]:
        """The complete messages in the buffered bytes, parsed one at a time: a change of
        :attr:`max_message_size` made while handling one message applies to the next (a server
        raises the cap only once a publish is authorized). Raises :class:`ProtocolError`."""
        while (message := self._next_message()) is not None:
            yield message

    def _next_message(self) -> Message | None:
        view = memoryview(self._buffer)
        pos = 0
        try:
            while True:
                parsed = self._parse_chunk(view, pos)
                if parsed is None:
                    return None
                pos, message = parsed
                if message is not None:
                    self._apply_control(message)
                    return message
        finally:
            view.release()
            del self._buffer[:pos]

    def ack_due(self) -> int | None:
        """Sequence number to acknowledge if a full window arrived since the last ack, else None."""
        window = self.window_ack_size
        if window is None or self.bytes_received - self._last_ack < window:
            return None
        self._last_ack = self.bytes_received
        return self.bytes_received & 0xFFFFFFFF

    def _stream(self, csid: int, fmt: int) -> _StreamState:
        state = self._streams.get(csid)
        if state is None:
            if fmt != 0:
                raise ProtocolError(f"chunk stream {csid}: first chunk has fmt {fmt}, expected 0")
            if len(self._streams) >= self.max_chunk_streams:
                raise ProtocolError(f"more than {self.max_chunk_streams} chunk streams")
            state = _StreamState()
            self._streams[csid] = state
        return state

    def _parse_chunk(self, buf: memoryview, pos: int) -> tuple[int, Message | None] | None:
        """Parse one chunk at ``pos``; None if incomplete (nothing is changed then)."""
        end = len(buf)
        if pos >= end:
            return None
        fmt, csid = buf[pos] >> 6, buf[pos] & 0x3F
        pos += 1
        if csid < 2:
            extra = 1 if csid == 0 else 2
            if pos + extra > end:
                return None
            csid = 64 + buf[pos] + (buf[pos + 1] * 256 if extra == 2 else 0)
            pos += extra
        if pos + _HEADER_SIZES[fmt] > end:
            return None
        state = self._stream(csid, fmt)
        field = 0
        length, type_id, stream_id = state.length, state.type_id, state.stream_id
        if fmt <= 2:
            field = int.from_bytes(buf[pos : pos + 3], "big")
        if fmt <= 1:
            length = int.from_bytes(buf[pos + 3 : pos + 6], "big")
            type_id = buf[pos + 6]
        if fmt == 0:
            stream_id = struct.unpack_from("<I", buf, pos + 7)[0]
        pos += _HEADER_SIZES[fmt]
        extended = field == EXTENDED if fmt <= 2 else state.extended
        starts_message = state.partial is None
        if extended:
            if pos + 4 > end:
                return None
            value = struct.unpack_from(">I", buf, pos)[0]
            # Leniency: some encoders omit the field on continuation chunks; it must repeat
            # the message's value, so anything else is payload.
            if starts_message or value == state.ext_value:
                field = value
                pos += 4
        if not starts_message and fmt != 3:
            raise ProtocolError(f"chunk stream {csid}: fmt {fmt} header inside an unfinished message")
        if starts_message and length > self.max_message_size:
            raise ProtocolError(f"message of {length} bytes exceeds the {self.max_message_size} cap")
        have = 0 if state.partial is None else len(state.partial)
        take = min(self.chunk_size, length - have)
        if pos + take > end:
            return None
        if starts_message and take < length and self._pending_bytes + length > 2 * self.max_message_size:
            raise ProtocolError("too many bytes buffered in unfinished messages")

        # The chunk is complete: commit the header.
        if starts_message:
            if fmt == 0:
                state.timestamp, state.delta = field, field
            else:
                if fmt != 3 or extended:
                    state.delta = field
                state.timestamp = (state.timestamp + state.delta) & 0xFFFFFFFF
            if fmt <= 2:
                state.extended = extended
            state.ext_value = field
            state.length, state.type_id, state.stream_id = length, type_id, stream_id
            state.partial = bytearray()
            self._pending_bytes += length
        assert state.partial is not None
        state.partial += buf[pos : pos + take]
        pos += take
        if len(state.partial) < state.length:
            return pos, None
        payload = bytes(state.partial)
        state.partial = None
        self._pending_bytes -= state.length
        return pos, Message(csid, state.type_id, state.stream_id, state.timestamp, payload)

    def _apply_control(self, message: Message) -> None:
        if message.type_id not in (MSG_SET_CHUNK_SIZE, MSG_ABORT, MSG_WINDOW_ACK_SIZE):
            return
        if len(message.payload) < 4:
            raise ProtocolError(f"control message type {message.type_id} shorter than 4 bytes")
        (value,) = struct.unpack_from(">I", message.payload)
        if message.type_id == MSG_SET_CHUNK_SIZE:
            if not 1 <= value <= MAX_CHUNK_SIZE:
                raise ProtocolError(f"invalid chunk size {value}")
            self.chunk_size = value
        elif message.type_id == MSG_ABORT:
            state = self._streams.get(value)
            if state is not None and state.partial is not None:
                self._pending_bytes -= state.length
                state.partial = None
        elif value > 0:
            self.window_ack_size = value


def _basic_header(fmt: int, csid: int) -> bytes:
    if 2 <= csid <= 63:
        return bytes((fmt << 6 | csid,))
    if 64 <= csid <= 319:
        return bytes((fmt << 6, csid - 64))
    if 320 <= csid <= 65599:
        return bytes((fmt << 6 | 1,)) + struct.pack("<H", csid - 64)
    raise ValueError(f"invalid chunk stream id {csid}")


class ChunkWriter:
    """Splits messages into chunks, compressing headers (fmt 1/2/3) like the reader expects."""

    def __init__(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self.chunk_size = chunk_size
        self._streams: dict[int, _StreamState] = {}

    def write(self, message: Message) -> bytes:
        """Return the chunk bytes for ``message`` (use the writer for a connection's whole output)."""
        if len(message.payload) > 0xFFFFFF:
            raise ValueError("RTMP messages are limited to 16 MiB")
        prev = self._streams.get(message.csid)
        length = len(message.payload)
        delta = (message.timestamp - prev.timestamp) & 0xFFFFFFFF if prev else 0
        if prev is None or prev.stream_id != message.stream_id or delta >= 0x80000000:
            fmt, field = 0, message.timestamp
        elif prev.length != length or prev.type_id != message.type_id:
            fmt, field = 1, delta
        elif prev.delta != delta:
            fmt, field = 2, delta
        else:
            fmt, field = 3, delta
        state = _StreamState(message.timestamp, field, length, message.type_id, message.stream_id)
        state.extended = field >= EXTENDED if fmt <= 2 else bool(prev and prev.extended)
        self._streams[message.csid] = state
        ext = struct.pack(">I", field) if state.extended else b""
        out = bytearray(_basic_header(fmt, message.csid))
        field3 = min(field, EXTENDED).to_bytes(3, "big")
        if fmt == 0:
            out += field3 + length.to_bytes(3, "big") + bytes((message.type_id,))
            out += struct.pack("<I", message.stream_id)
        elif fmt == 1:
            out += field3 + length.to_bytes(3, "big") + bytes((message.type_id,))
        elif fmt == 2:
            out += field3
        out += ext
        out += message.payload[: self.chunk_size]
        continuation = _basic_header(3, message.csid) + ext
        for start in range(self.chunk_size, length, self.chunk_size):
            out += continuation
            out += message.payload[start : start + self.chunk_size]
        return bytes(out)
