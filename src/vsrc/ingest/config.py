"""Tunables of the RTMP ingest server."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RtmpServerConfig:
    """Tunables of the RTMP server (times in seconds, sizes in bytes)."""

    handshake_timeout: float = 10.0
    idle_timeout: float = 30.0
    close_timeout: float = 5.0
    chunk_size: int = 4096
    window_ack_size: int = 2_500_000
    peer_bandwidth: int = 2_500_000
    max_message_size: int = 16 * 1024 * 1024
    max_chunk_streams: int = 64
    max_sessions: int = 1000
    rebase_timestamps: bool = True
