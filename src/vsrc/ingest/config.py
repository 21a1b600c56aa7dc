"""Tunables of the RTMP ingest server."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RtmpServerConfig:
    """Tunables of the RTMP server (times in seconds, sizes in bytes).

    Until its publish is authorized a connection is *pending*: it must publish within
    ``publish_timeout`` of connecting (whatever it sends meanwhile), its messages may not exceed
    ``preauth_max_message_size``, and one address (an IPv6 /64) may hold at most
    ``max_pending_per_ip`` pending connections. An authorized publish gets ``max_message_size``.
    """

    handshake_timeout: float = 10.0
    publish_timeout: float = 15.0
    idle_timeout: float = 30.0
    close_timeout: float = 5.0
    chunk_size: int = 4096
    window_ack_size: int = 2_500_000
    peer_bandwidth: int = 2_500_000
    max_message_size: int = 16 * 1024 * 1024
    preauth_max_message_size: int = 16 * 1024
    max_chunk_streams: int = 64
    max_sessions: int = 1000
    max_pending_per_ip: int = 10
    rebase_timestamps: bool = True
