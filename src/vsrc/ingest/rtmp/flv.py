"""FLV writing from RTMP messages (Adobe FLV spec v10.1, annex E).

The FLV bytes can be piped into ffmpeg (``-f flv -i pipe:0``) or written to a file as a recording.
"""

from __future__ import annotations

import struct
from typing import Final

from vsrc.ingest.rtmp import amf0
from vsrc.ingest.rtmp.chunks import Message
from vsrc.ingest.rtmp.errors import ProtocolError
from vsrc.ingest.rtmp.messages import MessageType, data_message_body

TAG_AUDIO: Final = 8
TAG_VIDEO: Final = 9
TAG_SCRIPT: Final = 18
FLAG_AUDIO: Final = 0x04
FLAG_VIDEO: Final = 0x01
_AGGREGATE_HEADER: Final = 11


def file_header(*, audio: bool = True, video: bool = True) -> bytes:
    """The 9-byte FLV header followed by PreviousTagSize0 (0)."""
    flags = (FLAG_AUDIO if audio else 0) | (FLAG_VIDEO if video else 0)
    return b"FLV\x01" + bytes((flags,)) + struct.pack(">II", 9, 0)


def tag(tag_type: int, timestamp: int, payload: bytes) -> bytes:
    """One FLV tag (11-byte header, payload) followed by its PreviousTagSize."""
    if len(payload) > 0xFFFFFF:
        raise ValueError("FLV tag payloads are limited to 16 MiB")
    timestamp &= 0xFFFFFFFF
    header = struct.pack(
        ">B3s3sB3s",
        tag_type,
        len(payload).to_bytes(3, "big"),
        (timestamp & 0xFFFFFF).to_bytes(3, "big"),
        timestamp >> 24,
        b"\x00\x00\x00",
    )
    return header + payload + struct.pack(">I", _AGGREGATE_HEADER + len(payload))


def is_sequence_header(type_id: int, payload: bytes) -> bool:
    """Whether an audio/video message is codec configuration rather than a frame.

    Covers AVC/HEVC sequence headers, AAC AudioSpecificConfig, Enhanced-RTMP SequenceStart and
    video info/command frames (frame type 5).
    """
    if len(payload) < 2:
        return True
    first = payload[0]
    if type_id == MessageType.VIDEO:
        if first & 0x80:  # Enhanced RTMP: packet type in the low nibble, 0 = SequenceStart
            return (first & 0x0F) in (0, 2, 4, 5) or (first >> 4) & 0x07 == 5
        return first >> 4 == 5 or ((first & 0x0F) in (7, 12) and payload[1] == 0)
    if type_id == MessageType.AUDIO:
        if first >> 4 == 9:  # Enhanced RTMP audio: packet type in the low nibble
            return (first & 0x0F) in (0, 2, 4)
        return first >> 4 == 10 and payload[1] == 0
    return False


def split_aggregate(message: Message) -> list[Message]:
    """Split an Aggregate message (type 22) into its audio/video/data sub-messages.

    Sub-message timestamps are shifted so that the first one equals the aggregate's timestamp.
    """
    payload, pos, out = message.payload, 0, []
    offset: int | None = None
    while pos < len(payload):
        if pos + _AGGREGATE_HEADER > len(payload):
            raise ProtocolError("aggregate message: truncated sub-message header")
        type_id = payload[pos]
        size = int.from_bytes(payload[pos + 1 : pos + 4], "big")
        ts = int.from_bytes(payload[pos + 4 : pos + 7], "big") | payload[pos + 7] << 24
        start = pos + _AGGREGATE_HEADER
        if start + size + 4 > len(payload):
            raise ProtocolError("aggregate message: sub-message overruns the payload")
        if offset is None:
            offset = (message.timestamp - ts) & 0xFFFFFFFF
        body = payload[start : start + size]
        out.append(Message(message.csid, type_id, message.stream_id, (ts + offset) & 0xFFFFFFFF, body))
        pos = start + size + 4  # skip the back pointer
    return out


class FlvMuxer:
    """Turns a publisher's RTMP messages into FLV bytes: the header first, then tags.

    With ``rebase_timestamps`` (default) the first audio/video frame is at 0 ms, so a stream
    published with large timestamps (``-output_ts_offset``) records as a normal file. Codec
    sequence headers (often sent with timestamp 0 whatever the stream's timestamps) do not count
    as the first frame; tags before the first frame, or a few ms before it (interleaving
    jitter), get timestamp 0.
    """

    def __init__(self, *, rebase_timestamps: bool = True) -> None:
        self.rebase_timestamps = rebase_timestamps
        self._base: int | None = None
        self._header_sent = False
        self._flags: tuple[bool, bool] = (True, True)

    def mux(self, message: Message) -> list[bytes]:
        """FLV byte strings for ``message`` (header included before the first tag).

        Audio, video, data (metadata) and aggregate messages produce tags; anything else gives [].
        """
        if message.type_id == MessageType.AGGREGATE:
            return [part for sub in split_aggregate(message) for part in self.mux(sub)]
        if message.type_id in (MessageType.AUDIO, MessageType.VIDEO):
            tag_type = TAG_AUDIO if message.type_id == MessageType.AUDIO else TAG_VIDEO
            if self._base is None and not is_sequence_header(message.type_id, message.payload):
                self._base = message.timestamp
            body = message.payload
        elif message.type_id in (MessageType.DATA_AMF0, MessageType.DATA_AMF3):
            tag_type, body = TAG_SCRIPT, data_message_body(message)
            if not self._header_sent:
                self._flags_from_metadata(body)
        else:
            return []
        out = []
        if not self._header_sent:
            self._header_sent = True
            out.append(file_header(audio=self._flags[0], video=self._flags[1]))
        out.append(tag(tag_type, self._timestamp(message.timestamp), body))
        return out

    def _timestamp(self, timestamp: int) -> int:
        if not self.rebase_timestamps:
            return timestamp
        if self._base is None:
            return 0
        delta = (timestamp - self._base) & 0xFFFFFFFF
        return 0 if delta >= 0x80000000 else delta

    def _flags_from_metadata(self, body: bytes) -> None:
        values = amf0.decode(body)
        if len(values) >= 2 and values[0] == "onMetaData" and isinstance(values[1], dict):
            meta = values[1]
            audio, video = "audiocodecid" in meta, "videocodecid" in meta
            if audio or video:
                self._flags = (audio, video)
