"""Pure RTMP protocol code (no I/O): AMF0, handshake, chunk streams, messages, FLV writing."""

from vsrc.ingest.rtmp.errors import ProtocolError, PublishRejected, RtmpError

__all__ = ["ProtocolError", "PublishRejected", "RtmpError"]
