"""Blocking work stays off the event loop: while an upload's disk write, an encode's enqueue or the rate
limiter's Redis round-trip is stuck, the same server still answers other requests.

Each test makes one of those calls hang for as long as the test wants (a stalled disk, queue or Redis)
and then asks the server for something else. Had the call run on the event loop, nothing else could
be answered until it returned: the outcome does not depend on how fast or loaded the machine is.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server, start_server, stop_server
from tests.helpers import eventually
from vsrc.api import uploads
from vsrc.api.deps import AppState

STALL = 120  # seconds a stalled call waits at most, so that a failing test cannot hang the run
ANSWER = 20  # generous: the probe request is answered long before this unless the loop is blocked


class Stall:
    """Wraps a function so that its calls block until ``release()``; records the calling threads."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.entered = threading.Event()
        self.released = threading.Event()
        self.threads: set[int] = set()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.threads.add(threading.get_ident())
        self.entered.set()
        self.released.wait(STALL)
        return self.func(*args, **kwargs)

    def release(self) -> None:
        self.released.set()


def _in_background(func: Callable[[], httpx.Response]) -> tuple[threading.Thread, list[httpx.Response]]:
    result: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: result.append(func()), daemon=True)
    thread.start()
    return thread, result


def _upload(server: Server, key: str, clip: Path) -> httpx.Response:
    with server.client(key) as client:
        return client.post(
            "/api/v1/media/upload",
            files={"file": (clip.name, clip.read_bytes())},
            data={"title": "loop"},
            timeout=STALL + 60,
        )


def _answers(server: Server, path: str = "/health") -> int:
    return httpx.get(server.url + path, timeout=ANSWER).status_code


def test_upload_parse_and_write_run_off_the_loop(
    server: Server, clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write = Stall(uploads._FileTarget.on_data_received)

    def on_data_received(target: uploads._FileTarget, chunk: bytes) -> None:
        write(target, chunk)

    monkeypatch.setattr(uploads._FileTarget, "on_data_received", on_data_received)
    key, _ = server.account_keys()
    thread, result = _in_background(lambda: _upload(server, key, clips["mp4"]))
    try:
        assert write.entered.wait(60), "the upload never reached the file writer"
        assert _answers(server) == 200  # the disk write is stuck, the loop is not
    finally:
        write.release()
        thread.join(STALL + 60)
    assert result and result[0].status_code == 201, result
    assert server.thread.ident not in write.threads


def test_enqueue_runs_off_the_loop(
    server: Server, clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    state: AppState = server.server.config.app.state.vsrc
    enqueue = Stall(state.queue.enqueue_encode)
    monkeypatch.setattr(state.queue, "enqueue_encode", enqueue)
    key, _ = server.account_keys()
    thread, result = _in_background(lambda: _upload(server, key, clips["mp4"]))
    try:
        assert enqueue.entered.wait(60), "the upload never enqueued its encode"
        assert _answers(server) == 200  # the queue is stuck, the loop is not
    finally:
        enqueue.release()
        thread.join(STALL + 60)
    assert result and result[0].status_code == 201, result
    assert server.thread.ident not in enqueue.threads


class StalledRedis:
    """A TCP server that accepts Redis clients, reads what they send and never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.clients: list[socket.socket] = []
        self.received = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            self.clients.append(conn)
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    def _drain(self, conn: socket.socket) -> None:
        try:
            while conn.recv(65536):
                self.received.set()
        except OSError:
            return

    def close(self) -> None:
        self.sock.close()
        for conn in self.clients:
            conn.close()


@pytest.fixture
def stalled_redis_server(tmp_path: Path) -> Iterator[tuple[Server, StalledRedis]]:
    redis = StalledRedis()
    # redis-py gives up on a silent server after 5 s by default; here it waits as long as the test.
    srv = start_server(tmp_path, redis_url=f"redis://127.0.0.1:{redis.port}/0?socket_timeout={STALL}")
    yield srv, redis
    redis.close()  # the stuck requests fail now, so that the server can stop
    stop_server(srv)


def test_rate_limiter_waits_for_redis_off_the_loop(
    stalled_redis_server: tuple[Server, StalledRedis],
) -> None:
    server, redis = stalled_redis_server
    _, limited = _in_background(lambda: httpx.get(server.url + "/api/v1/media", timeout=STALL + 60))
    eventually(redis.received.is_set, timeout=60, what="the rate limiter asked Redis")
    # Not under /api/, so not rate limited: answered while the limiter still waits for Redis.
    assert _answers(server, "/openapi.json") == 200
    assert not limited, "the rate-limited request was answered first: the probe waited for it"
