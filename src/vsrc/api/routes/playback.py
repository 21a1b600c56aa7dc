"""The public playback surface (no API key): resolve, HLS playlists and segments, thumbnails."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from vsrc.api.deps import SessionDep, StateDep
from vsrc.services import playback

router = APIRouter(tags=["playback"])

# Segments never change once written; playlists do while encoding or live.
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=1"


@router.get("/hls/resolve/{mediaId}")
def resolve(mediaId: str, session: SessionDep, state: StateDep) -> dict[str, str]:
    """``{"ul": "<absolute URL of the master playlist>"}`` for a VOD or live media id."""
    url = playback.resolve_master(session, public_id=mediaId, public_url=state.settings.public_url)
    return {"ul": url}


def _serve(state: StateDep, area: str, media_id: str, path: str) -> FileResponse:
    file = playback.public_file(state.storage, area=area, public_id=media_id, path=path)
    media_type = playback.content_type(file)
    cache = SHORT if file.suffix == ".m3u8" else IMMUTABLE
    return FileResponse(file, media_type=media_type, headers={"Cache-Control": cache})


@router.get("/hls/{mediaId}/{path:path}")
@router.head("/hls/{mediaId}/{path:path}", include_in_schema=False)
def hls_file(mediaId: str, path: str, state: StateDep) -> FileResponse:
    """Master and rendition playlists and their segments (HTTP Range supported)."""
    return _serve(state, "hls", mediaId, path)


@router.get("/thumbnails/{mediaId}/{path:path}")
@router.head("/thumbnails/{mediaId}/{path:path}", include_in_schema=False)
def thumbnail_file(mediaId: str, path: str, state: StateDep) -> FileResponse:
    """``poster.jpg``, ``storyboard.jpg`` and ``storyboard.vtt``."""
    return _serve(state, "thumbnails", mediaId, path)
