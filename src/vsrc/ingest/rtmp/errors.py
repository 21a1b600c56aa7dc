"""The RTMP exception tree.

RtmpError
├── ProtocolError     the peer sent bytes that break the RTMP/AMF0 rules or our caps
└── PublishRejected   the publish request was refused (bad or expired key, ...)
"""

from __future__ import annotations


class RtmpError(Exception):
    """Base of every error the RTMP ingest raises on purpose."""


class ProtocolError(RtmpError):
    """The peer violated the protocol (or one of our resource caps); the connection must be closed."""


class PublishRejected(RtmpError):
    """A publish request was refused; ``reason`` is shown to the publisher."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
