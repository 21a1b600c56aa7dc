"""Simulated HLS live viewers: asyncio, one keep-alive HTTP/1.1 connection per viewer, raw sockets
(an HTTP library would cost the client more CPU than the server it measures).

A viewer polls the variant playlist every target duration, as a player does, and fetches each
segment that appears, one after another (real-time pace: the stream adds one per target duration).
A segment is *late* when its last byte arrives more than one target duration after the playlist
answer that first listed it (a player that started at the live edge would have stalled), or when
it could not be fetched at all.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field


@dataclass
class Tally:
    lateness: list[float] = field(default_factory=list)  # seconds, measured segments only
    failures: int = 0  # errors and segments that could not be fetched (counted as late)
    playlist_seconds: list[float] = field(default_factory=list)
    bytes: int = 0
    target: float = 2.0  # the playlist's EXT-X-TARGETDURATION


class Connection:
    """One keep-alive HTTP/1.1 connection; reconnects when the server closes it."""

    def __init__(self, host: str, port: int, source: str | None) -> None:
        self.host, self.port, self.source = host, port, source
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, *, keep: bool) -> tuple[int, bytes, int]:
        """(status, body if ``keep`` else b"", body length)."""
        if self._writer is None:
            local = (self.source, 0) if self.source else None
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, local_addr=local, limit=1 << 20
            )
        assert self._reader is not None
        self._writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
            status, headers = _parse_head(head)
            body, size, reusable = await self._body(headers, keep)
        except BaseException:
            self.close()
            raise
        if not reusable:
            self.close()
        return status, body, size

    async def _body(self, headers: dict[str, str], keep: bool) -> tuple[bytes, int, bool]:
        reader = self._reader
        assert reader is not None
        chunks: list[bytes] = []
        size = 0
        if "content-length" in headers:
            left = int(headers["content-length"])
            while left:
                chunk = await reader.read(min(left, 1 << 18))
                if not chunk:
                    raise ConnectionError("closed mid-body")
                left -= len(chunk)
                size += len(chunk)
                if keep:
                    chunks.append(chunk)
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                length = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
                if length == 0:
                    await reader.readuntil(b"\r\n")
                    break
                chunk = await reader.readexactly(length + 2)
                size += length
                if keep:
                    chunks.append(chunk[:-2])
        else:
            while chunk := await reader.read(1 << 18):
                size += len(chunk)
                if keep:
                    chunks.append(chunk)
            return b"".join(chunks), size, False
        return b"".join(chunks), size, headers.get("connection", "").lower() != "close"

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return status, headers


def parse_playlist(text: str) -> tuple[float, list[str]]:
    """(target duration, segment URIs) of a media playlist."""
    target, uris = 2.0, []
    for line in text.splitlines():
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target = float(line.split(":", 1)[1])
        elif line and not line.startswith("#"):
            uris.append(line.strip())
    return target, uris


async def viewer(
    conn: Connection, playlist: str, *, measure_from: float, until: float, tally: Tally, rng: random.Random
) -> None:
    """Poll ``playlist`` every target duration until ``until`` (monotonic); fetch each new segment.
    Results count from ``measure_from`` on (the first poll joins at the live edge)."""
    base = playlist.rsplit("/", 1)[0]
    seen: set[str] | None = None
    target = 2.0
    await asyncio.sleep(rng.uniform(0, target))  # viewers do not all poll at the same instant
    next_poll = time.monotonic()
    while next_poll < until:
        start = time.monotonic()
        counted = start >= measure_from
        try:
            status, body, _ = await conn.get(playlist, keep=True)
            listed = time.monotonic()
            if status != 200:
                raise ConnectionError(f"playlist: HTTP {status}")
            target, uris = parse_playlist(body.decode())
            tally.target = target
        except (OSError, ConnectionError, ValueError, asyncio.IncompleteReadError):
            tally.failures += counted
            next_poll = max(next_poll + target, time.monotonic())
            await asyncio.sleep(max(0.0, next_poll - time.monotonic()))
            continue
        if counted:
            tally.playlist_seconds.append(listed - start)
        if seen is None:
            seen = set(uris[:-1])  # join at the live edge: the newest segment only
        for uri in uris:
            if uri in seen:
                continue
            seen.add(uri)
            try:
                status, _, size = await conn.get(f"{base}/{uri}", keep=False)
                if status != 200:
                    raise ConnectionError(f"segment: HTTP {status}")
            except (OSError, ConnectionError, ValueError, asyncio.IncompleteReadError):
                tally.failures += counted
                continue
            if counted:
                tally.lateness.append(time.monotonic() - listed)
                tally.bytes += size
        next_poll = max(next_poll + target, time.monotonic())
        await asyncio.sleep(max(0.0, next_poll - time.monotonic()))
    conn.close()


async def run_viewers(
    host: str, port: int, playlist: str, n: int, *, warmup: float, window: float, sources: list[str]
) -> Tally:
    """``n`` viewers (connections from ``sources`` in turn) for ``warmup`` + ``window`` seconds."""
    tally = Tally()
    now = time.monotonic()
    rng = random.Random(n)
    tasks = [
        viewer(
            Connection(host, port, sources[i % len(sources)] if sources else None),
            playlist,
            measure_from=now + warmup,
            until=now + warmup + window,
            tally=tally,
            rng=rng,
        )
        for i in range(n)
    ]
    await asyncio.gather(*tasks)
    return tally
