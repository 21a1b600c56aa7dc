"""RTMP message types, protocol control messages, command messages and reply builders."""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from typing import Final

from vsrc.ingest.rtmp import amf0
from vsrc.ingest.rtmp.amf0 import AmfValue
from vsrc.ingest.rtmp.chunks import Message
from vsrc.ingest.rtmp.errors import ProtocolError

CSID_CONTROL: Final = 2
CSID_COMMAND: Final = 3
CSID_STREAM_STATUS: Final = 5


class MessageType(enum.IntEnum):
    """RTMP message type ids (RTMP spec 5.4 and 7.1)."""

    SET_CHUNK_SIZE = 1
    ABORT = 2
    ACKNOWLEDGEMENT = 3
    USER_CONTROL = 4
    WINDOW_ACK_SIZE = 5
    SET_PEER_BANDWIDTH = 6
    AUDIO = 8
    VIDEO = 9
    DATA_AMF3 = 15
    SHARED_OBJECT_AMF3 = 16
    COMMAND_AMF3 = 17
    DATA_AMF0 = 18
    SHARED_OBJECT_AMF0 = 19
    COMMAND_AMF0 = 20
    AGGREGATE = 22


class UserControl(enum.IntEnum):
    """User control event types (RTMP spec 7.1.7)."""

    STREAM_BEGIN = 0
    STREAM_EOF = 1
    STREAM_DRY = 2
    SET_BUFFER_LENGTH = 3
    STREAM_IS_RECORDED = 4
    PING_REQUEST = 6
    PING_RESPONSE = 7


class PeerBandwidthLimit(enum.IntEnum):
    """Limit type of Set Peer Bandwidth."""

    HARD = 0
    SOFT = 1
    DYNAMIC = 2


def _control(type_id: int, payload: bytes) -> Message:
    return Message(CSID_CONTROL, type_id, 0, 0, payload)


def set_chunk_size(size: int) -> Message:
    """Set Chunk Size (type 1)."""
    return _control(MessageType.SET_CHUNK_SIZE, struct.pack(">I", size & 0x7FFFFFFF))


def abort(csid: int) -> Message:
    """Abort Message (type 2) for chunk stream ``csid``."""
    return _control(MessageType.ABORT, struct.pack(">I", csid))


def acknowledgement(sequence: int) -> Message:
    """Acknowledgement (type 3): bytes received so far, modulo 2**32."""
    return _control(MessageType.ACKNOWLEDGEMENT, struct.pack(">I", sequence & 0xFFFFFFFF))


def window_ack_size(size: int) -> Message:
    """Window Acknowledgement Size (type 5)."""
    return _control(MessageType.WINDOW_ACK_SIZE, struct.pack(">I", size))


def set_peer_bandwidth(size: int, limit: PeerBandwidthLimit = PeerBandwidthLimit.DYNAMIC) -> Message:
    """Set Peer Bandwidth (type 6)."""
    return _control(MessageType.SET_PEER_BANDWIDTH, struct.pack(">IB", size, limit))


def user_control(event: UserControl, value: int) -> Message:
    """User Control message (type 4) with a 4-byte event value (stream id or ping timestamp)."""
    return _control(MessageType.USER_CONTROL, struct.pack(">HI", event, value & 0xFFFFFFFF))


def parse_user_control(payload: bytes) -> tuple[int, int]:
    """Return (event type, first 4-byte value) of a User Control payload."""
    if len(payload) < 6:
        raise ProtocolError("user control message shorter than 6 bytes")
    event, value = struct.unpack_from(">HI", payload)
    return int(event), int(value)


@dataclass(frozen=True)
class Command:
    """A decoded command message: name, transaction id, command object, further arguments."""

    name: str
    transaction_id: float
    command_object: AmfValue
    args: list[AmfValue] = field(default_factory=list)

    def arg_str(self, index: int) -> str | None:
        """The ``index``-th extra argument if it is a string, else None."""
        value = self.args[index] if index < len(self.args) else None
        return value if isinstance(value, str) else None


def parse_command(message: Message) -> Command:
    """Decode a command message (type 20, or 17 whose body starts with a 0 format byte)."""
    payload = message.payload
    if message.type_id == MessageType.COMMAND_AMF3:
        if not payload or payload[0] != 0:
            raise ProtocolError("AMF3-encoded command bodies are not supported")
        payload = payload[1:]
    values = amf0.decode(payload)
    if len(values) < 2 or not isinstance(values[0], str):
        raise ProtocolError("command message without a name and transaction id")
    name, transaction_id = values[0], values[1]
    if isinstance(transaction_id, bool) or not isinstance(transaction_id, int | float):
        raise ProtocolError(f"command {name!r}: transaction id is not a number")
    command_object = values[2] if len(values) > 2 else None
    return Command(name, float(transaction_id), command_object, values[3:])


def data_message_body(message: Message) -> bytes:
    """The AMF0 body of a data message for an FLV script tag: ``@setDataFrame`` is removed.

    ``@setDataFrame, "onMetaData", {...}`` becomes ``"onMetaData", {...}``; other data messages
    are returned unchanged. Raises :class:`ProtocolError` for undecodable bodies.
    """
    payload = message.payload
    if message.type_id == MessageType.DATA_AMF3:
        payload = payload[1:] if payload[:1] == b"\x00" else payload
    first, offset = amf0.decode_value(payload)
    if first == "@setDataFrame":
        return payload[offset:]
    return payload


def command_message(
    name: str, transaction_id: float, command_object: AmfValue, *args: AmfValue, stream_id: int = 0
) -> Message:
    """Build an AMF0 command message."""
    csid = CSID_COMMAND if stream_id == 0 else CSID_STREAM_STATUS
    body = amf0.encode(name, transaction_id, command_object, *args)
    return Message(csid, MessageType.COMMAND_AMF0, stream_id, 0, body)


def result(transaction_id: float, properties: AmfValue, information: AmfValue) -> Message:
    """A ``_result`` reply."""
    return command_message("_result", transaction_id, properties, information)


def error(transaction_id: float, properties: AmfValue, information: AmfValue) -> Message:
    """An ``_error`` reply."""
    return command_message("_error", transaction_id, properties, information)


def connect_result(transaction_id: float) -> Message:
    """``_result`` for ``connect``: NetConnection.Connect.Success."""
    return result(
        transaction_id,
        {"fmsVer": "FMS/3,0,1,123", "capabilities": 31.0},
        {
            "level": "status",
            "code": "NetConnection.Connect.Success",
            "description": "Connection succeeded.",
            "objectEncoding": 0.0,
        },
    )


def on_status(stream_id: int, level: str, code: str, description: str, **extra: AmfValue) -> Message:
    """An ``onStatus`` message on message stream ``stream_id``."""
    info: dict[str, AmfValue] = {"level": level, "code": code, "description": description}
    info.update(extra)
    return command_message("onStatus", 0, None, info, stream_id=stream_id)
