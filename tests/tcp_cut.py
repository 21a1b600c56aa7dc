"""A TCP proxy on loopback in front of an HTTP server (the S3 server) that can drop one response midway:
what a restarted S3 server or a dropped connection does to a reader (tests of the source read)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.conftest import free_port

CHUNK = 16 * 1024


@dataclass
class Cut:
    """Drop the first response to a GET whose request line contains ``fragment`` that reaches
    ``after`` bytes (a reader that reads less, such as a probe, is left alone); ``before`` runs just
    before the connection is closed."""

    fragment: str
    after: int
    before: Callable[[], None] | None = None
    done: threading.Event = field(default_factory=threading.Event)


class CuttingProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.requests: list[str] = []  # request lines seen, in order
        self.cut: Cut | None = None
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._open: set[socket.socket] = set()
        self._stopped = False
        threading.Thread(target=self._accept, name="tcp-cut-accept", daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def gets(self, fragment: str) -> int:
        with self._lock:
            return sum(1 for line in self.requests if line.startswith("GET ") and fragment in line)

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self._open |= {client, upstream}
            doomed = threading.Event()  # set when this connection's current response is the one to cut
            threading.Thread(target=self._requests, args=(client, upstream, doomed), daemon=True).start()
            threading.Thread(target=self._responses, args=(upstream, client, doomed), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket, doomed: threading.Event) -> None:
        """Client → server, noting each request line (``GET /bucket/key?… HTTP/1.1``)."""
        pending = b""
        try:
            while data := client.recv(CHUNK):
                pending = (pending + data)[-8192:]
                while b"\r\n" in pending:
                    line, pending = pending.split(b"\r\n", 1)
                    self._note(line.decode("latin-1"), doomed)
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            _close(upstream, client)

    def _note(self, line: str, doomed: threading.Event) -> None:
        if line.split(" ", 1)[0] not in ("GET", "HEAD", "PUT", "POST", "DELETE"):
            return
        with self._lock:
            self.requests.append(line)
            cut = self.cut
            if cut is not None and line.startswith("GET ") and cut.fragment in line:
                doomed.set()
            else:
                doomed.clear()  # another request on the same kept-alive connection

    def _responses(self, upstream: socket.socket, client: socket.socket, doomed: threading.Event) -> None:
        """Server → client; the doomed response is closed midway."""
        relayed = 0
        try:
            while data := upstream.recv(CHUNK):
                cut = self.cut
                if doomed.is_set() and cut is not None and not cut.done.is_set():
                    left = cut.after - relayed
                    if left <= len(data):
                        client.sendall(data[: max(left, 0)])
                        if cut.before is not None:
                            cut.before()
                        cut.done.set()
                        return
                    relayed += len(data)
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(upstream, client)

    def stop(self) -> None:
        self._stopped = True
        self._listener.close()
        with self._lock:
            for sock in self._open:
                _close(sock)


def _close(*socks: socket.socket) -> None:
    for sock in socks:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
