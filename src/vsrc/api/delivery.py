"""Viewer delivery as plain ASGI, in front of every other middleware (docs/architecture.md, "Delivery").

``GET``/``HEAD`` of ``/hls/resolve/{id}``, ``/hls/{id}/{path}`` and ``/thumbnails/{id}/{path}`` are
answered here: no dependency injection, no thread-pool hop and no database query when the answer is in
``services/delivery``'s cache, and a segment leaves as one ``http.response.body`` message. Other methods
(CORS preflights, 405s) go on to the FastAPI app, whose routes in ``routes/playback.py`` describe these
paths in the OpenAPI document.

Behind nginx (``VSRC_DELIVERY_ACCEL_PREFIX``), a public or token-checked segment or image on local
storage is answered with ``X-Accel-Redirect`` and nginx sends the file itself (docs/deploy.md).
"""

from __future__ import annotations

import json
import logging
from urllib.parse import unquote_plus

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vsrc.api.delivery_http import UNSATISFIABLE, byte_range, not_modified, stream
from vsrc.api.deps import AppState
from vsrc.api.errors import envelope, error_response
from vsrc.errors import NotFound, ValidationFailed, VsrcError
from vsrc.ids import MEDIA_ID_RE
from vsrc.services import playback
from vsrc.services.delivery import Blob, DeliveryCache, token_query
from vsrc.services.tokens import AUD_STORYBOARD, AUD_THUMBNAIL, AUD_VIDEO, MAX_TOKEN_CHARS

# Segments never change once written; playlists do while encoding or live.
IMMUTABLE = b"public, max-age=31536000, immutable"
SHORT = b"public, max-age=1"
# Signed answers are per viewer: never stored by shared caches.
PRIVATE_IMMUTABLE = b"private, max-age=86400"
PRIVATE_SHORT = b"private, max-age=1"
NO_STORE = b"private, no-store"

# Players run on customers' origins (the API-wide CORS policy, answered here without the middleware).
CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"Content-Length, Content-Range, Accept-Ranges, Retry-After"),
]
log = logging.getLogger("vsrc.api.delivery")
_LISTINGS = (".m3u8", ".vtt")


class DeliveryMiddleware:
    def __init__(self, app: ASGIApp, *, state: AppState) -> None:
        self.app = app
        self.state = state
        settings = state.settings
        self.cache = DeliveryCache(
            state.storage, ttl=settings.delivery_cache_seconds, max_bytes=settings.delivery_cache_mb * 1024**2
        )
        self.accel = settings.delivery_accel_prefix.rstrip("/").encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/hls/resolve/"):
            answer = self._resolve(scope, send, path[len("/hls/resolve/") :])
        elif path.startswith("/hls/"):
            answer = self._file(scope, receive, send, "hls", path[len("/hls/") :])
        elif path.startswith("/thumbnails/"):
            answer = self._file(scope, receive, send, "thumbnails", path[len("/thumbnails/") :])
        else:
            await self.app(scope, receive, send)
            return
        try:
            await answer
        except Exception as exc:
            if scope.get("vsrc.delivery_started"):
                raise  # the body is cut short: the server closes the connection, nothing to answer
            if isinstance(exc, VsrcError):
                reply = error_response(exc)
            else:  # as the API's own handler of unexpected errors does (api/errors.py)
                log.exception("unhandled error in delivery", exc_info=exc)
                reply = envelope(500, "Internal server error")

            # With the CORS headers, so that a player on another origin can read why (403 reasons).
            async def send_with_cors(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message["headers"], *CORS]
                await send(message)

            await reply(scope, receive, send_with_cors)

    async def _resolve(self, scope: Scope, send: Send, media_id: str) -> None:
        token = _token(scope)  # validated even where it is not needed, as the OpenAPI document says
        if "/" in media_id or not MEDIA_ID_RE.match(media_id):
            raise NotFound("Media not found")
        item = self.cache.fresh_item(media_id)
        if item is None:
            item = await anyio.to_thread.run_sync(self.cache.item, self.state.sessions, media_id)
        url = playback.master_url(self.state.settings.public_url, media_id)
        body = json.dumps({"ul": url}, separators=(",", ":")).encode()
        if not item.signed:
            await _send(scope, send, 200, b"application/json", b"no-cache", body)
            return
        guard = self.state.guard
        if not guard.check_item_cached(item, audience=AUD_VIDEO, token=token):
            await anyio.to_thread.run_sync(lambda: guard.check_item(item, audience=AUD_VIDEO, token=token))
        assert token is not None  # check_item refuses a signed item without one
        # The url with ?token= (as playback.with_token writes it): the encoded token is URL-safe ASCII,
        # so it is put into the JSON as it is rather than run through the encoder (it is most of it).
        joint = b"&" if "?" in url else b"?"
        signed = b'%s%s%s"}' % (body.removesuffix(b'"}'), joint, token_query(token).encode())
        await _send(scope, send, 200, b"application/json", NO_STORE, signed)

    async def _file(self, scope: Scope, receive: Receive, send: Send, area: str, rest: str) -> None:
        media_id, _, path = rest.partition("/")
        token = _token(scope)  # validated even where it is not needed, as the OpenAPI document says
        if not MEDIA_ID_RE.match(media_id):
            raise NotFound("Not found")
        # The token is checked before the file is looked up: a signed item does not tell which files exist.
        signed = self.cache.fresh_signed(media_id)
        if signed is None:
            signed = await anyio.to_thread.run_sync(self.cache.signed, media_id)
        if signed:
            audience = _audience(area, path)
            guard = self.state.guard
            # A viewer's token seen before, with its key and the item's account cached, is checked here
            # on the loop (expiry, revocation within the key cache's TTL, sub, aud): no thread hop.
            if not guard.verify_signed_cached(media_id, audience=audience, token=token):
                await anyio.to_thread.run_sync(
                    lambda: guard.verify_signed(media_id, audience=audience, token=token)
                )
        key = playback.file_key(area=area, public_id=media_id, path=path)
        blob = self.cache.fresh_file(key)
        if blob is None:
            blob = await anyio.to_thread.run_sync(self.cache.file, key)
        else:
            self.cache.touch(key)
        listing = key.endswith(_LISTINGS)
        media_type = playback.content_type(key).encode()
        if signed and listing:
            assert token is not None  # verify_signed refuses a signed item without one
            if not blob.has_token_slots:  # once per version of the file, off the loop
                await anyio.to_thread.run_sync(lambda: blob.token_slots)
            await _send(scope, send, 200, media_type, PRIVATE_SHORT, blob.with_token(token))
            return
        if signed:
            cache = PRIVATE_IMMUTABLE
        else:
            cache = SHORT if key.endswith(".m3u8") else IMMUTABLE
        if self.accel and blob.path is not None and blob.final and not listing:
            headers = [(b"x-accel-redirect", self.accel + b"/" + key.encode())]
            await _send(scope, send, 200, media_type, cache, b"", headers)
            return
        await self._body(scope, receive, send, blob, media_type, cache)

    async def _body(
        self, scope: Scope, receive: Receive, send: Send, blob: Blob, media_type: bytes, cache: bytes
    ) -> None:
        size, etag = blob.size, blob.etag
        if not_modified(scope, etag):
            await _start(scope, send, 304, media_type, cache, None, [(b"etag", etag)])
            await send({"type": "http.response.body", "body": b""})
            return
        wanted = byte_range(scope, size, etag)
        if wanted == UNSATISFIABLE:
            extra = [(b"content-range", b"bytes */%d" % size)]
            await _send(scope, send, 416, media_type, cache, b"", extra)
            return
        status, start, stop, extra = 200, 0, size, [(b"etag", etag)]
        if isinstance(wanted, tuple):
            start, stop = wanted
            status = 206
            extra.append((b"content-range", b"bytes %d-%d/%d" % (start, stop - 1, size)))
        if blob.body is not None or scope["method"] == "HEAD":
            body = b"" if blob.body is None else blob.body[start:stop]
            await _send(scope, send, status, media_type, cache, body, extra, length=stop - start)
            return
        # Too big to keep in memory: streamed through storage (local disk or S3) chunk by chunk. Opened
        # before the head goes out: a file deleted meanwhile is a 404, and one deleted once the answer
        # started is still sent whole (an open file, an S3 GET in flight keep their bytes).
        chunks = await anyio.to_thread.run_sync(self.cache.storage.read_range, blob.key, start, stop)
        await _start(scope, send, status, media_type, cache, stop - start, extra)
        await stream(receive, send, chunks, stop - start, blob.key)


def _token(scope: Scope) -> str | None:
    query = scope.get("query_string", b"")
    if b"token=" not in query:
        return None
    token = _query_value(query, b"token")
    if token is not None and len(token) > MAX_TOKEN_CHARS:
        raise ValidationFailed.field("token", f"at most {MAX_TOKEN_CHARS} characters")
    return token


def _query_value(query: bytes, name: bytes) -> str | None:
    """The value of ``name`` in ``query`` as ``dict(urllib.parse.parse_qsl(query))`` gives it (the last
    non-empty one, ``+`` and %-escapes decoded), without decoding every pair: a signed viewer's token
    is most of each request's query, and parse_qsl cost more than checking the token."""
    found = None
    for part in query.split(b"&"):
        key, eq, value = part.partition(b"=")
        if not eq or not value:
            continue
        if b"%" in key or b"+" in key:
            if unquote_plus(key.decode("latin-1")) != name.decode("latin-1"):
                continue
        elif key != name:
            continue
        text = value.decode("latin-1")
        found = unquote_plus(text) if b"%" in value or b"+" in value else text
    return found


def _audience(area: str, path: str) -> str:
    if area == "hls":
        return AUD_VIDEO
    return AUD_STORYBOARD if path.startswith("storyboard") else AUD_THUMBNAIL


async def _start(
    scope: Scope,
    send: Send,
    status: int,
    media_type: bytes,
    cache: bytes,
    length: int | None,
    extra: list[tuple[bytes, bytes]],
) -> None:
    """``length`` None: no body and no Content-Length (a 304)."""
    headers = [
        (b"content-type", media_type),
        *([] if length is None else [(b"content-length", b"%d" % length)]),
        (b"cache-control", cache),
        (b"accept-ranges", b"bytes"),
        *CORS,
        *extra,
    ]
    scope["vsrc.delivery_started"] = True  # an error after this cannot be answered any more
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def _send(
    scope: Scope,
    send: Send,
    status: int,
    media_type: bytes,
    cache: bytes,
    body: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
    length: int | None = None,
) -> None:
    await _start(scope, send, status, media_type, cache, len(body) if length is None else length, extra or [])
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
