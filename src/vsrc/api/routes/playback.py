"""The public playback surface (no API key): resolve, HLS playlists and segments, thumbnails.

Every ``GET`` and ``HEAD`` of these paths is answered by ``vsrc.api.delivery`` before routing (plain
ASGI, cached); the routes here describe them in the OpenAPI document. Signed items
(docs/architecture.md#integrations) need ``?token=``; the playlists and the storyboard served for them
carry the token on to the files they name.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from vsrc.errors import NotFound
from vsrc.services.tokens import MAX_TOKEN_CHARS

router = APIRouter(tags=["playback"])

TokenQ = Annotated[
    str | None,
    Query(max_length=MAX_TOKEN_CHARS, description="Playback token (JWT) for signed media"),
]


def _answered_by_delivery() -> Response:
    # Reached only if the delivery middleware is not installed: nothing is served without it.
    raise NotFound("Not found")


@router.get("/hls/resolve/{mediaId}")
def resolve(mediaId: str, token: TokenQ = None) -> dict[str, str]:
    """``{"ul": "<absolute URL of the master playlist>"}`` for a VOD or live media id (for a signed
    item the URL carries the token)."""
    raise NotFound("Media not found")


@router.get("/hls/{mediaId}/{path:path}")
@router.head("/hls/{mediaId}/{path:path}", include_in_schema=False)
def hls_file(mediaId: str, path: str, token: TokenQ = None) -> Response:
    """Master and rendition playlists and their segments (HTTP Range supported)."""
    return _answered_by_delivery()


@router.get("/thumbnails/{mediaId}/{path:path}")
@router.head("/thumbnails/{mediaId}/{path:path}", include_in_schema=False)
def thumbnail_file(mediaId: str, path: str, token: TokenQ = None) -> Response:
    """``poster.jpg`` (token ``aud`` t), ``storyboard.jpg`` and ``storyboard.vtt`` (``aud`` s)."""
    return _answered_by_delivery()
