"""Delivery's HTTP edges: malformed and out-of-bounds ranges (RFC 9110 §14), If-Range, conditional
requests, and files streamed from storage (over the in-memory limit) that change or disappear, or whose
client goes away, while they are being sent."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_server, stop_server
from tests.helpers import eventually
from vsrc.services import delivery

VOD = "vod_11111111-2222-4333-8444-555555555555"
SEGMENT = bytes(range(256)) * 8  # 2048 bytes
SEG_KEY = f"hls/{VOD}/360p/seg_00000.ts"
SEG = f"/{SEG_KEY}"
BIG_KEY = f"hls/{VOD}/360p/big.mp4"
BIG = f"/{BIG_KEY}"
# Over the real in-memory limit (16 MiB): streamed in chunks, and more than loopback's socket buffers.
BIG_BYTES = os.urandom(1024 * 1024) * 20


@pytest.fixture
def srv(tmp_path_factory: pytest.TempPathFactory, storage_url: str | None) -> Iterator[Server]:
    extra = {"storage_url": storage_url} if storage_url else {}
    server = start_server(tmp_path_factory.mktemp("data"), **extra)
    server.runtime.storage.put_bytes(SEG_KEY, SEGMENT)
    yield server
    stop_server(server)


@pytest.fixture
def big(srv: Server) -> str:
    srv.runtime.storage.put_bytes(BIG_KEY, BIG_BYTES)
    return BIG


@pytest.mark.parametrize("streamed", [False, True], ids=["cached", "streamed"])
def test_invalid_ranges_are_ignored_and_out_of_bounds_ones_are_416(
    srv: Server, streamed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if streamed:
        monkeypatch.setattr(delivery, "MAX_CACHED_FILE", 1000)
    with srv.client() as client:
        # An invalid range set (RFC 9110 §14.1.1: last < first, not a number, empty, another unit,
        # several ranges, which this server does not do) makes the server ignore Range: 200, all of it.
        for value in (
            "bytes=5-3",
            "bytes=abc",
            "bytes=",
            "bytes=-",
            "bytes=1-2-3",
            "bytes=--5",
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes 0-1",
        ):
            whole = client.get(SEG, headers={"Range": value})
            assert whole.status_code == 200 and whole.content == SEGMENT, value
            assert "content-range" not in whole.headers, value
        head = client.head(SEG, headers={"Range": "bytes=5-3"})
        assert head.status_code == 200 and head.headers["content-length"] == str(len(SEGMENT))
        # The unit is case-insensitive.
        part = client.get(SEG, headers={"Range": "Bytes=0-1"})
        assert part.status_code == 206 and part.content == SEGMENT[:2]
        # Valid syntax, nothing of it inside the file: 416 with the size.
        for value in ("bytes=999999999-", "bytes=2048-", "bytes=-0", "bytes=9" + "9" * 4400 + "-"):
            out = client.get(SEG, headers={"Range": value})
            assert out.status_code == 416, value[:40]
            assert out.headers["content-range"] == "bytes */2048" and out.content == b""
        # A suffix longer than the file is the whole file, as a 206.
        suffix = client.get(SEG, headers={"Range": "bytes=-" + "9" * 4400})
        assert suffix.status_code == 206 and suffix.content == SEGMENT
        assert suffix.headers["content-range"] == "bytes 0-2047/2048"
        ends_past = client.get(SEG, headers={"Range": "bytes=2000-" + "9" * 4400})
        assert ends_past.status_code == 206 and ends_past.content == SEGMENT[2000:]


def test_if_range_sends_the_part_only_of_the_same_version(srv: Server) -> None:
    """RFC 9110 §13.1.5: a Range with an If-Range that does not match (another version, a weak tag,
    a date: no Last-Modified is sent) is answered with the whole current file."""
    with srv.client() as client:
        etag = client.get(SEG).headers["etag"]
        same = client.get(SEG, headers={"Range": "bytes=0-1", "If-Range": etag})
        assert same.status_code == 206 and same.content == SEGMENT[:2]
        for validator in ('"another-version"', f"W/{etag}", "Sat, 29 Oct 2094 19:43:31 GMT"):
            whole = client.get(SEG, headers={"Range": "bytes=0-1", "If-Range": validator})
            assert whole.status_code == 200 and whole.content == SEGMENT, validator


def test_conditional_requests(srv: Server) -> None:
    """If-None-Match takes lists and weak tags (weak comparison, RFC 9110 §13.1.2) and wins over
    If-Modified-Since; without a Last-Modified, If-Modified-Since alone never makes a 304."""
    with srv.client() as client:
        etag = client.get(SEG).headers["etag"]
        for listed in (f'"x", {etag}', f'"x",W/{etag}', "*", f'{etag},"y"'):
            assert client.get(SEG, headers={"If-None-Match": listed}).status_code == 304, listed
        head = client.head(SEG, headers={"If-None-Match": etag})
        assert head.status_code == 304 and head.content == b""
        future = "Sat, 29 Oct 2094 19:43:31 GMT"
        assert client.get(SEG, headers={"If-Modified-Since": future}).status_code == 200
        both = client.get(SEG, headers={"If-Modified-Since": future, "If-None-Match": '"x"'})
        assert both.status_code == 200 and both.content == SEGMENT
        # A 304 wins over a Range; a changed tag with a Range is the range.
        assert client.get(SEG, headers={"If-None-Match": etag, "Range": "bytes=0-1"}).status_code == 304
        assert client.get(SEG, headers={"If-None-Match": '"x"', "Range": "bytes=0-1"}).status_code == 206


def _download_start(server: Server, path: str) -> tuple[socket.socket, bytes]:
    """A raw GET whose response head (and the first bytes of its body) has arrived."""
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=60)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # the server blocks on a small window
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = sock.recv(65536)
        assert chunk, got
        got += chunk
    return sock, got


def _rest(sock: socket.socket, got: bytes) -> tuple[bytes, bytes, bool]:
    """Read until the body is complete or the server closes: (head, body, complete)."""
    head, _, body = got.partition(b"\r\n\r\n")
    length = int(
        next(
            v
            for k, v in (h.split(b": ", 1) for h in head.split(b"\r\n")[1:])
            if k.lower() == b"content-length"
        )
    )
    while len(body) < length:
        chunk = sock.recv(1024 * 1024)
        if not chunk:
            return head, body, False
        body += chunk
    return head, body, True


def test_a_file_deleted_before_its_stream_opens_is_a_404(srv: Server, big: str) -> None:
    """Between delivery's look-up (a stat, a HEAD) and the read, the file is deleted: the stream is
    opened before the answer starts, so this is a plain 404 — not a 200 that breaks off."""
    storage = srv.runtime.storage
    real = storage.read_range

    def deleted_first(key: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        if key == BIG_KEY:
            storage.delete_prefix(key)
        return real(key, start, stop)

    storage.read_range = deleted_first  # type: ignore[method-assign]
    try:
        with srv.client() as client:
            gone = client.get(big)
        assert gone.status_code == 404 and gone.json()["success"] is False
    finally:
        del storage.read_range  # type: ignore[method-assign]


def test_a_delete_during_a_download_does_not_cut_it(srv: Server, big: str) -> None:
    """A real delete while a real client downloads a streamed file: the open file (local disk) or
    the GET in flight (S3) keeps its bytes, and the client gets all of them."""
    sock, got = _download_start(srv, big)
    with sock:
        srv.runtime.storage.delete_prefix(BIG_KEY)
        head, body, complete = _rest(sock, got)
    assert head.startswith(b"HTTP/1.1 200")
    assert complete and body == BIG_BYTES


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record not in self.records:  # seen by the "vsrc" logger and again by the root
            self.records.append(record)


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "vsrc", "")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


def test_a_stored_file_that_ends_early_breaks_the_connection(
    srv: Server, big: str, storage_url: str | None, records: Records
) -> None:
    """Truncated in place under a download (the bytes the answer promised are not there any more):
    the client sees the connection close before Content-Length bytes, never a short body that looks
    complete, and the server logs it once, without a traceback."""
    if storage_url is not None:
        pytest.skip("S3 objects are never changed in place")
    path = srv.settings.storage_root / BIG_KEY
    sock, got = _download_start(srv, big)
    with sock:
        os.truncate(path, 1024 * 1024)
        head, body, complete = _rest(sock, got)
    assert head.startswith(b"HTTP/1.1 200") and not complete and len(body) < len(BIG_BYTES)
    assert body == BIG_BYTES[: len(body)]
    eventually(lambda: any(BIG_KEY in r.getMessage() for r in records.records), timeout=30)
    mine = [r for r in records.records if BIG_KEY in r.getMessage()]
    assert len(mine) == 1 and mine[0].levelno == logging.WARNING, [r.getMessage() for r in mine]
    # uvicorn adds its one line for the incomplete response ("returned without completing"), no trace.
    assert not [r for r in records.records if r.exc_info], [r.getMessage() for r in records.records]


def test_a_client_that_leaves_stops_the_read(srv: Server, big: str) -> None:
    """A viewer who closes the connection mid-file: the server stops reading storage (for S3, stops
    downloading the object) instead of reading the rest for nobody."""
    storage = srv.runtime.storage
    real = storage.read_range
    read: list[int] = []
    closed = threading.Event()

    def counted(key: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        chunks = real(key, start, stop)

        def counting() -> Iterator[bytes]:
            try:
                for chunk in chunks:
                    read.append(len(chunk))
                    yield chunk
            finally:
                closed.set()

        return counting()

    storage.read_range = counted  # type: ignore[method-assign]
    try:
        sock, _ = _download_start(srv, big)
        sock.close()
        eventually(closed.is_set, timeout=60, what="the server closed the stored file")
        assert sum(read) < len(BIG_BYTES)
    finally:
        del storage.read_range  # type: ignore[method-assign]
