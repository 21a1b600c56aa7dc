"""A real API + worker + RTMP ingest, and real ffmpeg publishers."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import FFMPEG, Server, start_server, start_worker, stop_server, stop_worker
from vsrc.ingest.service import LiveIngest


@dataclass
class LiveStack:
    server: Server
    ingest: LiveIngest
    loop: asyncio.AbstractEventLoop

    @property
    def rtmp_port(self) -> int:
        return self.ingest.rtmp.port

    def rtmp_url(self, key: str, app: str = "live") -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/{app}/{key}"

    def create_live(self, key: str, **body: object) -> dict:
        body.setdefault("title", "Show")
        with self.server.client(key) as client:
            resp = client.post("/api/v1/live", json=body)
        assert resp.status_code == 201, resp.text
        return dict(resp.json()["data"])


def publish(
    url: str, *, seconds: float, extra_out: list[str] | None = None, size: str = "640x360", audio: bool = True
) -> subprocess.Popen[str]:
    """A real-time (-re) ffmpeg RTMP publisher of a testsrc2 (+ sine) clip."""
    cmd = [
        FFMPEG,
        "-hide_banner",
        "-loglevel",
        "error",
        "-re",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size}:rate=30",
    ]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440"]
    cmd += [
        "-t",
        str(seconds),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-tune",
        "zerolatency",
        "-g",
        "30",
        "-pix_fmt",
        "yuv420p",
    ]
    if audio:
        cmd += ["-c:a", "aac", "-b:a", "64k"]
    cmd += [*(extra_out or []), "-f", "flv", url]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def start_ingest(server: Server) -> LiveStack:
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True, name="ingest-loop").start()
    ingest = LiveIngest(server.runtime, server_id=1, port=0)
    asyncio.run_coroutine_threadsafe(ingest.start(), loop).result(timeout=30)
    return LiveStack(server, ingest, loop)


def stop_ingest(stack: LiveStack) -> None:
    asyncio.run_coroutine_threadsafe(stack.ingest.stop(), stack.loop).result(timeout=60)
    stack.loop.call_soon_threadsafe(stack.loop.stop)


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    server = start_server(tmp_path_factory.mktemp("live"))
    worker = start_worker(server.settings)
    stack = start_ingest(server)
    yield stack
    stop_ingest(stack)
    stop_worker(worker)
    stop_server(server)
