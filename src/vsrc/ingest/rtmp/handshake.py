"""Server side of the RTMP handshake (RTMP spec 5.2), sans I/O.

We do the *simple* handshake: S0 = version 3, S1 = our time, four zero bytes and random bytes,
S2 = an echo of C1. Clients that start the digest ("complex", Flash Player 9) handshake --
ffmpeg, OBS/librtmp -- fall back to the simple one because S1 carries zeros where the digest
scheme expects a server version, so no digest needs to be computed.
"""

from __future__ import annotations

import enum
import os
import struct
import time
from collections.abc import Callable
from typing import Final

from vsrc.ingest.rtmp.errors import ProtocolError

RTMP_VERSION: Final = 3
HANDSHAKE_SIZE: Final = 1536


class HandshakeState(enum.Enum):
    """Where the server handshake stands."""

    WAIT_C0C1 = "wait_c0c1"
    WAIT_C2 = "wait_c2"
    DONE = "done"


def _uptime_ms() -> int:
    return int(time.monotonic() * 1000) & 0xFFFFFFFF


class ServerHandshake:
    """Incremental server handshake: feed received bytes, send what :meth:`feed` returns.

    Once :attr:`done` is true, :attr:`remainder` holds bytes that followed C2 (the first chunks).
    """

    def __init__(
        self,
        *,
        clock_ms: Callable[[], int] = _uptime_ms,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._clock_ms = clock_ms
        self._random_bytes = random_bytes
        self._buffer = bytearray()
        self.state = HandshakeState.WAIT_C0C1
        self.remainder = b""
        self.client_time = 0
        self.client_version = b"\x00\x00\x00\x00"

    @property
    def done(self) -> bool:
        """Whether C2 has been received."""
        return self.state is HandshakeState.DONE

    def feed(self, data: bytes) -> bytes:
        """Consume received bytes; return the bytes to send (possibly empty).

        Raises :class:`ProtocolError` for an unsupported C0 version.
        """
        if self.state is HandshakeState.DONE:
            raise ProtocolError("handshake already complete")
        self._buffer += data
        out = b""
        if self.state is HandshakeState.WAIT_C0C1:
            if self._buffer and self._buffer[0] != RTMP_VERSION:
                raise ProtocolError(f"unsupported RTMP version {self._buffer[0]} in C0")
            if len(self._buffer) < 1 + HANDSHAKE_SIZE:
                return b""
            c1 = bytes(self._buffer[1 : 1 + HANDSHAKE_SIZE])
            del self._buffer[: 1 + HANDSHAKE_SIZE]
            self.client_time = struct.unpack_from(">I", c1)[0]
            self.client_version = c1[4:8]
            s1 = struct.pack(">II", self._clock_ms(), 0) + self._random_bytes(HANDSHAKE_SIZE - 8)
            out = bytes((RTMP_VERSION,)) + s1 + c1
            self.state = HandshakeState.WAIT_C2
        if self.state is HandshakeState.WAIT_C2 and len(self._buffer) >= HANDSHAKE_SIZE:
            # C2 should echo S1; clients differ (digest handshakes), so it is not checked.
            self.remainder = bytes(self._buffer[HANDSHAKE_SIZE:])
            self._buffer.clear()
            self.state = HandshakeState.DONE
        return out
