"""RTMP ingest: a small publish-only RTMP server (``vsrc.ingest.server``) on top of the
pure protocol code in ``vsrc.ingest.rtmp``."""
