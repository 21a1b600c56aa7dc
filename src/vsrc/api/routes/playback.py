"""The public playback surface (no API key): resolve, HLS playlists and segments, thumbnails.

Signed items (docs/architecture.md#integrations) need ``?token=``; the playlists and the storyboard
served for them carry the token on to the files they name.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response

from vsrc.api.deps import SessionDep, StateDep
from vsrc.errors import NotFound
from vsrc.ids import MEDIA_ID_RE
from vsrc.media.tokenized import tokenize_playlist, tokenize_vtt
from vsrc.services import playback
from vsrc.services.tokens import AUD_STORYBOARD, AUD_THUMBNAIL, AUD_VIDEO, MAX_TOKEN_CHARS

router = APIRouter(tags=["playback"])

# Segments never change once written; playlists do while encoding or live.
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=1"
# Signed answers are per viewer: never stored by shared caches.
PRIVATE_IMMUTABLE = "private, max-age=86400"
PRIVATE_SHORT = "private, max-age=1"

TokenQ = Annotated[
    str | None,
    Query(max_length=MAX_TOKEN_CHARS, description="Playback token (JWT) for signed media"),
]


@router.get("/hls/resolve/{mediaId}")
def resolve(
    mediaId: str, session: SessionDep, state: StateDep, response: Response, token: TokenQ = None
) -> dict[str, str]:
    """``{"ul": "<absolute URL of the master playlist>"}`` for a VOD or live media id (for a signed
    item the URL carries the token)."""
    item = playback.find_item(session, public_id=mediaId)
    signed = state.guard.check_item(item, audience=AUD_VIDEO, token=token)
    if signed:
        response.headers["Cache-Control"] = "private, no-store"
    return {"ul": playback.master_url(state.settings.public_url, mediaId, token if signed else None)}


def _audience(area: str, path: str) -> str:
    if area == "hls":
        return AUD_VIDEO
    return AUD_STORYBOARD if path.startswith("storyboard") else AUD_THUMBNAIL


def _serve(state: StateDep, area: str, media_id: str, path: str, token: str | None) -> Response:
    if not MEDIA_ID_RE.match(media_id):
        raise NotFound("Not found")
    # The token is checked before the file is looked up: a signed item does not tell which files exist.
    signed = state.guard.check_delivery(media_id, audience=_audience(area, path), token=token)
    file = playback.public_file(state.storage, area=area, public_id=media_id, path=path)
    media_type = playback.content_type(file)
    listing = file.suffix in (".m3u8", ".vtt")
    if not signed:
        cache = SHORT if file.suffix == ".m3u8" else IMMUTABLE
        return FileResponse(file, media_type=media_type, headers={"Cache-Control": cache})
    if not listing:
        return FileResponse(file, media_type=media_type, headers={"Cache-Control": PRIVATE_IMMUTABLE})
    assert token is not None  # check_delivery refuses a signed item without one
    text = file.read_text(encoding="utf-8")
    body = tokenize_playlist(text, token) if file.suffix == ".m3u8" else tokenize_vtt(text, token)
    return Response(body, media_type=media_type, headers={"Cache-Control": PRIVATE_SHORT})


@router.get("/hls/{mediaId}/{path:path}")
@router.head("/hls/{mediaId}/{path:path}", include_in_schema=False)
def hls_file(mediaId: str, path: str, state: StateDep, token: TokenQ = None) -> Response:
    """Master and rendition playlists and their segments (HTTP Range supported)."""
    return _serve(state, "hls", mediaId, path, token)


@router.get("/thumbnails/{mediaId}/{path:path}")
@router.head("/thumbnails/{mediaId}/{path:path}", include_in_schema=False)
def thumbnail_file(mediaId: str, path: str, state: StateDep, token: TokenQ = None) -> Response:
    """``poster.jpg`` (token ``aud`` t), ``storyboard.jpg`` and ``storyboard.vtt`` (``aud`` s)."""
    return _serve(state, "thumbnails", mediaId, path, token)
