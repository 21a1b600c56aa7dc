"""A real webhook receiver: a tiny threaded HTTP server on 127.0.0.1 that records every POST.

Behaviour is scripted per event type (``fail_first``: answer 500 that many times per event id,
then 200), it can redirect every request (``redirect_to``: 302) and it can hang (``hold()``: requests
block until ``release()``). Used by the tests and by ``bench.webhooks``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() on arrival
    status: int  # what we answered (0 while held)

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    @property
    def event_id(self) -> str:
        return self.headers.get("vsrc-event-id", "")

    @property
    def event_type(self) -> str:
        return self.headers.get("vsrc-event-type", "")


@dataclass
class Receiver:
    port: int = 0  # 0: any free port; a fixed one to come back on the same URL after stop()
    fail_first: dict[str, int] = field(default_factory=dict)
    redirect_to: str | None = None  # answer 302 to this URL instead of 200
    requests: list[Received] = field(default_factory=list)
    blocked: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _gate: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        self._gate.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver._answer(headers, body)
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", str(receiver.redirect_to))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="webhook-receiver").start()
        return self

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def hold(self) -> None:
        """From now on requests hang (after being recorded) until ``release()``."""
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def _answer(self, headers: dict[str, str], body: bytes) -> int:
        arrived = time.time()
        with self._lock:
            event_type = headers.get("vsrc-event-type", "")
            event_id = headers.get("vsrc-event-id", "")
            earlier = sum(1 for r in self.requests if r.event_id == event_id)
            status = 500 if earlier < self.fail_first.get(event_type, 0) else 200
            if status == 200 and self.redirect_to:
                status = 302
            held = not self._gate.is_set()
            self.requests.append(Received(headers, body, arrived, 0 if held else status))
            if held:
                self.blocked += 1
        if held:
            self._gate.wait()
            with self._lock:
                self.blocked -= 1
        return status

    def of_type(self, event_type: str, subject: str | None = None) -> list[Received]:
        """Requests for ``event_type`` (about the media/live id ``subject``), in arrival order."""
        with self._lock:
            found = [r for r in self.requests if r.event_type == event_type]
        if subject is not None:
            found = [r for r in found if r.event["data"].get("mediaId") == subject]
        return found

    def delivered(self, event_type: str, subject: str | None = None) -> list[Received]:
        return [r for r in self.of_type(event_type, subject) if r.status == 200]
