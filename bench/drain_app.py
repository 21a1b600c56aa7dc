"""Reference ASGI app for the upload benchmark: what uvicorn alone costs to receive a body.

``POST /drain`` reads the body and drops it (the transport floor); ``POST /write`` also writes it to
a file under ``$BENCH_DRAIN_DIR`` (then deletes it) — the best any stream-to-disk app on uvicorn can do.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import IO

from starlette.types import Receive, Scope, Send


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    fh: IO[bytes] | None = None
    path = Path(os.environ.get("BENCH_DRAIN_DIR", "/tmp")) / f"drain-{uuid.uuid4().hex}.part"
    if scope["path"] == "/write":
        fh = open(path, "wb")  # a plain buffered file, as VSRC's upload target uses
    size = 0
    more = True
    while more:
        message = await receive()
        body = message.get("body", b"")
        size += len(body)
        if fh is not None:
            fh.write(body)
        more = message.get("more_body", False)
    if fh is not None:
        fh.close()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": b'{"bytes": %d}' % size})
    if fh is not None:  # after the answer: freeing 1 GiB of blocks is not part of receiving it
        path.unlink()
