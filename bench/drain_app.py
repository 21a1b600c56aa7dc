"""Reference ASGI app for the upload benchmark: what uvicorn alone costs to receive a body.

``POST /drain`` reads the body and drops it (the transport floor); ``POST /write`` also writes it to
a file under ``$BENCH_DRAIN_DIR`` (then deletes it) — the best any stream-to-disk app on uvicorn can do.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from starlette.types import Receive, Scope, Send


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    fh: Any = None
    if scope["path"] == "/write":
        fh = tempfile.NamedTemporaryFile(dir=os.environ.get("BENCH_DRAIN_DIR"), delete=False)
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
        os.unlink(fh.name)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"bytes": %d}' % size})
