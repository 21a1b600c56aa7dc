"""The HTTP server bounds every request head: size and field count (431) and a read deadline.

Raw sockets against a real ``vsrc api`` process: an HTTP client library would refuse to send these
requests, and only the real process shows what a hostile head costs in memory.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ApiProcess, eventually, frozen, worker_pids

pytestmark = pytest.mark.slow

HEADER_TIMEOUT = 2  # seconds: short, so that the slow-client tests end quickly


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    proc = ApiProcess(tmp_path_factory.mktemp("limits"), VSRC_HTTP_HEADER_TIMEOUT=str(HEADER_TIMEOUT))
    yield proc
    proc.stop()


def _connect(api: ApiProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", api.port), timeout=60)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; a reset counts as the end."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def _status(response: bytes) -> int | None:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else None


def _request(api: ApiProcess, head: bytes) -> bytes:
    with _connect(api) as sock:
        sock.sendall(head)
        return _read_all(sock)


def _send_until_answered(sock: socket.socket, head: bytes, chunk: int = 64 * 1024) -> tuple[int, bytes]:
    """Send ``head`` in pieces, stopping as soon as the server answers or hangs up.

    Returns how many bytes were sent and what the server said (b"" if it only closed)."""
    sent = 0
    try:
        while sent < len(head):
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            sent += sock.send(head[sent : sent + chunk])
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent, _read_all(sock)


def _envelope(response: bytes) -> dict[str, object]:
    body = json.loads(response.split(b"\r\n\r\n", 1)[1])
    assert isinstance(body, dict)
    return body


def test_ordinary_requests_pass(api: ApiProcess) -> None:
    head = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-Field-%d: %s\r\n" % (i, b"v" * 100) for i in range(50)
    )
    response = _request(api, head + b"Connection: close\r\n\r\n")
    assert _status(response) == 200, response[:200]


def test_large_header_block_gets_431(api: ApiProcess) -> None:
    head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (128 * 1024) + b"\r\n\r\n"
    response = _request(api, head)
    assert _status(response) == 431, response[:200]
    assert b"connection: close" in response.lower()
    assert _envelope(response)["success"] is False


def test_too_many_header_fields_get_431(api: ApiProcess) -> None:
    # 200 tiny fields: far under the size limit, so only the count can refuse them.
    head = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200))
    response = _request(api, head + b"\r\n")
    assert len(head) < 4096
    assert _status(response) == 431, response[:200]
    assert _envelope(response)["success"] is False


def test_twenty_thousand_headers_get_431(api: ApiProcess) -> None:
    head = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(20_000))
    with _connect(api) as sock:
        _, response = _send_until_answered(sock, head + b"\r\n")
    assert _status(response) == 431, response[:200]


def test_32mb_header_is_cut_off(api: ApiProcess) -> None:
    head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (32 * 1024**2) + b"\r\n\r\n"
    with _connect(api) as sock:
        sent, response = _send_until_answered(sock, head)
    # The server refuses (431) or at least hangs up long before it has taken the whole header.
    assert _status(response) in (431, None), response[:200]
    assert sent < len(head)


def _vm(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` memory figure in bytes (VmHWM: the peak resident set)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


def test_unfinished_huge_headers_do_not_grow_memory(api: ApiProcess) -> None:
    """10 clients each push 32 MB of a header that never ends: the server's peak RSS stays bounded."""
    before = _vm(api.proc.pid, "VmHWM")
    head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (32 * 1024**2)  # never finished
    socks = [_connect(api) for _ in range(10)]
    done = []

    def push(sock: socket.socket) -> None:
        try:
            sock.sendall(head)
        except OSError:  # the server hung up on us: what we want
            pass
        done.append(sock)

    threads = [threading.Thread(target=push, args=(sock,), daemon=True) for sock in socks]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        # Everything was sent (or refused); the connections are still open on our side.
        grown = _vm(api.proc.pid, "VmHWM") - before
        assert len(done) == 10
        assert grown < 100 * 1024**2, f"peak RSS grew by {grown / 1024**2:.0f} MiB"
    finally:
        for sock in socks:
            sock.close()


def test_slow_header_client_is_disconnected(api: ApiProcess) -> None:
    """One header byte every second (less than the deadline apart) still ends at the deadline."""
    with _connect(api) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")

        def closed() -> bool:
            readable, _, _ = select.select([sock], [], [], 1)
            if readable:
                return True
            try:
                sock.send(b"X")
            except (BrokenPipeError, ConnectionResetError):
                return True
            return False

        eventually(closed, timeout=HEADER_TIMEOUT * 15, interval=0, what="server drops the slow client")
        response = _read_all(sock)
    assert _status(response) in (408, None), response[:200]


def test_silent_connection_is_closed(api: ApiProcess) -> None:
    with _connect(api) as sock:
        sock.settimeout(HEADER_TIMEOUT * 15)
        assert _read_all(sock) == b""


def test_keep_alive_second_request_is_also_bounded(api: ApiProcess) -> None:
    """The deadline also covers a later request on a kept-alive connection."""
    with _connect(api) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        assert _status(first) == 200
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # the second head never ends
        sock.settimeout(HEADER_TIMEOUT * 15)
        response = _read_all(sock)
    assert _status(response) in (408, None), response[:200]


def test_request_after_refusals_still_served(api: ApiProcess) -> None:
    response = _request(api, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert _status(response) == 200, response[:200]


def test_serve_bounds_request_heads_too(tmp_path: Path) -> None:
    """`vsrc serve` (API, worker and ingest in one command) serves HTTP with the same guards."""
    from tests.conftest import free_port

    serve = ApiProcess(tmp_path, "serve", VSRC_RTMP_PORT=str(free_port()), VSRC_HTTP_MAX_HEADERS="20")
    pid = serve.proc.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    try:
        fields = b"".join(b"X-%d: 1\r\n" % i for i in range(30))
        response = _request(serve, b"GET /health HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
        assert _status(response) == 431, response[:200]
    finally:
        serve.stop()
        # Whether serve stops its worker and ingest is tested elsewhere; this test leaves none behind.
        for child in map(int, children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)


def test_every_api_worker_bounds_request_heads(tmp_path: Path) -> None:
    """With VSRC_API_WORKERS=2 each worker process loads the guarded protocol and its limits."""
    api = ApiProcess(tmp_path, VSRC_API_WORKERS="2", VSRC_HTTP_MAX_HEADERS="20")
    try:
        fields = b"".join(b"X-%d: 1\r\n" % i for i in range(30))
        workers = eventually(lambda: len(w := worker_pids(api.proc.pid)) == 2 and w, timeout=120)
        for other in workers:  # the other one frozen: this worker answers, and refuses
            with frozen(other):
                response = _request(api, b"GET /health HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
                assert _status(response) == 431, response[:200]
        response = _request(api, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert _status(response) == 200, response[:200]
    finally:
        api.stop()
