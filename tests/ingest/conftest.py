"""Tooling for the RTMP ingest tests: a test authorizer and sink, a running server, an ffmpeg
publisher, a raw-socket RTMP client and an FLV probe (PyAV)."""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import struct
import subprocess
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec

import av
import imageio_ffmpeg
import pytest

from vsrc.ingest.interfaces import PublishGrant
from vsrc.ingest.rtmp.chunks import ChunkReader, ChunkWriter, Message
from vsrc.ingest.rtmp.errors import PublishRejected
from vsrc.ingest.rtmp.handshake import HANDSHAKE_SIZE
from vsrc.ingest.server import RtmpServer, RtmpServerConfig
from vsrc.ingest.sinks import FileSink

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
GOOD_KEY = "srv1_0123456789abcdef01234567"


class RecordingAuthorizer:
    """Accepts ``keys``; records every grant and every publish-done call."""

    def __init__(self, keys: set[str]) -> None:
        self.keys = keys
        self.requests: list[tuple[str, str, str]] = []
        self.done: list[PublishGrant] = []
        self.done_event = asyncio.Event()

    async def authorize(self, *, app: str, stream_key: str, addr: str) -> PublishGrant:
        self.requests.append((app, stream_key, addr))
        if stream_key not in self.keys:
            raise PublishRejected("unknown stream key")
        return PublishGrant(app=app, stream_key=stream_key, addr=addr, stream_id=f"live_{stream_key[-4:]}")

    async def on_publish_done(self, grant: PublishGrant) -> None:
        self.done.append(grant)
        self.done_event.set()


class RecordingSink(FileSink):
    """A FileSink that remembers whether it was closed."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.closed = False
        self.first_write = asyncio.Event()

    async def write(self, data: bytes) -> None:
        await super().write(data)
        self.first_write.set()

    async def close(self) -> None:
        assert not self.closed, "sink closed twice"
        self.closed = True
        await super().close()


@dataclass
class SinkFactory:
    """Creates one RecordingSink per publish, as ``<dir>/<n>.flv``."""

    directory: Path
    sinks: list[RecordingSink] = field(default_factory=list)
    created: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, grant: PublishGrant, /) -> RecordingSink:
        sink = RecordingSink(self.directory / f"{len(self.sinks)}.flv")
        self.sinks.append(sink)
        self.created.set()
        return sink


@dataclass
class Harness:
    server: RtmpServer
    authorizer: RecordingAuthorizer
    factory: SinkFactory

    def url(self, key: str, app: str = "live") -> str:
        return f"rtmp://127.0.0.1:{self.server.port}/{app}/{key}"


@asynccontextmanager
async def running_server(directory: Path, **config: object) -> AsyncIterator[Harness]:
    """An RtmpServer on 127.0.0.1, a free port, with a test authorizer and FLV file sinks."""
    authorizer = RecordingAuthorizer({GOOD_KEY})
    factory = SinkFactory(directory)
    server = RtmpServer(
        authorizer,
        factory,
        host="127.0.0.1",
        port=0,
        config=RtmpServerConfig(**config),  # type: ignore[arg-type]
    )
    await server.start()
    try:
        yield Harness(server, authorizer, factory)
    finally:
        await server.stop()


def make_clip(path: Path, seconds: float) -> Path:
    """A testsrc2 320x240@25 + 440 Hz sine clip."""
    subprocess.run(
        [
            *(FFMPEG, "-y", "-hide_banner", "-loglevel", "error"),
            *("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"),
            *("-f", "lavfi", "-i", "sine=frequency=440", "-t", str(seconds)),
            *("-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-c:a", "aac", str(path)),
        ],
        check=True,
        timeout=60,
    )
    return path


@pytest.fixture(scope="session")
def clip5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "clip5.mkv", 5)


@pytest.fixture(scope="session")
def clip2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "clip2.mkv", 2)


def publish_args(source: Path, url: str, *extra: str) -> list[str]:
    """ffmpeg arguments that publish ``source`` in real time to ``url``."""
    encode = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-c:a", "aac"]
    head = [FFMPEG, "-hide_banner", "-loglevel", "warning", "-re", "-i", str(source)]
    return [*head, *extra, *encode, "-f", "flv", url]


async def start_publisher(source: Path, url: str, *extra: str) -> asyncio.subprocess.Process:
    """Start an ffmpeg publisher (stderr piped)."""
    return await asyncio.create_subprocess_exec(
        *publish_args(source, url, *extra),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def publish(source: Path, url: str, *extra: str, timeout: float = 30) -> tuple[int, str]:
    """Publish ``source`` with ffmpeg; return (exit code, stderr)."""
    proc = await start_publisher(source, url, *extra)
    _, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, err.decode(errors="replace")


@dataclass
class FlvProbe:
    codecs: dict[str, str]
    duration: float
    first: dict[str, float]
    last: dict[str, float]
    packets: dict[str, int]
    max_audio_gap: float
    video_frames: int


def probe_flv(path: Path) -> FlvProbe:
    """Demux (and decode the video of) an FLV file with PyAV."""
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    packets: dict[str, int] = {}
    audio_times: list[float] = []
    with av.open(str(path)) as container:
        codecs: dict[str, str] = {str(s.type): s.codec_context.name for s in container.streams}
        for packet in container.demux():
            if packet.pts is None:
                continue
            kind = packet.stream.type
            t = float(packet.pts * packet.time_base)
            first.setdefault(kind, t)
            last[kind] = max(last.get(kind, t), t)
            packets[kind] = packets.get(kind, 0) + 1
            if kind == "audio":
                audio_times.append(t)
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    gaps = [b - a for a, b in itertools.pairwise(audio_times)]
    duration = max(last.values()) - min(first.values()) if first else 0.0
    return FlvProbe(codecs, duration, first, last, packets, max(gaps, default=0.0), frames)


class RawClient:
    """A minimal RTMP client over a raw socket, for protocol-level server tests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.chunks = ChunkReader()
        self.out = ChunkWriter()

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def handshake(self) -> None:
        c1 = struct.pack(">II", 0, 0) + os.urandom(HANDSHAKE_SIZE - 8)
        self.writer.write(b"\x03" + c1)
        s0s1s2 = await asyncio.wait_for(self.reader.readexactly(1 + 2 * HANDSHAKE_SIZE), 5)
        assert s0s1s2[0] == 3 and s0s1s2[1 + HANDSHAKE_SIZE :] == c1
        self.writer.write(s0s1s2[1 : 1 + HANDSHAKE_SIZE])

    async def send(self, *messages: Message) -> None:
        for message in messages:
            self.writer.write(self.out.write(message))
        await self.writer.drain()

    async def receive(self, timeout: float = 5) -> list[Message]:
        """Messages until the server is quiet for 0.2 s (or EOF)."""
        got: list[Message] = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    data = await asyncio.wait_for(self.reader.read(65536), 0.2)
                except TimeoutError:
                    return got
                if not data:
                    return got
                got += self.chunks.feed(data)

    async def read_until_eof(self, timeout: float = 5) -> bytes:
        """Everything until the server closes; fails if it does not within ``timeout``."""
        return await asyncio.wait_for(self.reader.read(), timeout)

    def close(self) -> None:
        self.writer.close()


P = ParamSpec("P")


def async_test(fn: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an ``async def`` test with :func:`asyncio.run` (pytest-asyncio is not used)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(fn(*args, **kwargs))

    return wrapper
