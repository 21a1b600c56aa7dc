"""RTMP ingest: a small publish-only RTMP server (``vsrc.ingest.server``) on top of the
pure protocol code in ``vsrc.ingest.rtmp``.

Wiring needs only what is exported here: implement :class:`PublishAuthorizer` and a
:class:`StreamSinkFactory`, then run :class:`RtmpServer` (or :func:`serve_rtmp`).
"""

from vsrc.ingest.config import RtmpServerConfig
from vsrc.ingest.interfaces import PublishAuthorizer, PublishGrant, StreamSink, StreamSinkFactory
from vsrc.ingest.rtmp.errors import ProtocolError, PublishRejected, RtmpError
from vsrc.ingest.server import RtmpServer, serve_rtmp
from vsrc.ingest.sinks import FileSink, ProcessSink, TeeSink

__all__ = [
    "FileSink",
    "ProcessSink",
    "ProtocolError",
    "PublishAuthorizer",
    "PublishGrant",
    "PublishRejected",
    "RtmpError",
    "RtmpServer",
    "RtmpServerConfig",
    "StreamSink",
    "StreamSinkFactory",
    "TeeSink",
    "serve_rtmp",
]
