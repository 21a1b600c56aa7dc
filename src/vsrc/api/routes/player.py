"""The player bundle (``/player/dist/...``) and the ``<iframe>`` embed page (``/embed/{mediaId}``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from vsrc.api.deps import SessionDep, StateDep
from vsrc.api.routes.playback import TokenQ
from vsrc.errors import NotFound
from vsrc.services import embed, playback
from vsrc.services.tokens import AUD_VIDEO

router = APIRouter(tags=["player"])

PLAYER_FILES = {
    "vsrc-player.js": "text/javascript; charset=utf-8",
    "vsrc-player.js.map": "application/json",
    "vsrc-player.css": "text/css; charset=utf-8",
    "vsrc-player.css.map": "application/json",
}


@router.get("/player/dist/{name}")
@router.head("/player/dist/{name}", include_in_schema=False)
def player_asset(name: str, state: StateDep) -> FileResponse:
    """The VSRCPlayer bundle built from ``player/`` (``make run`` builds it)."""
    if name not in PLAYER_FILES:
        raise NotFound("Not found")
    path = state.settings.player_dist / name
    if not path.is_file():
        raise NotFound("The player is not built: run 'make run' (or 'npm run build' in player/)")
    return FileResponse(path, media_type=PLAYER_FILES[name], headers={"Cache-Control": "public, max-age=300"})


@router.get("/embed/{mediaId}", response_class=HTMLResponse)
def embed_page(mediaId: str, session: SessionDep, state: StateDep, token: TokenQ = None) -> HTMLResponse:
    """A minimal responsive page playing one VOD or live item, for ``<iframe>`` embedding; a signed
    item needs ``?token=`` (the player passes it on to resolve, playlists, poster and storyboard)."""
    public_url = state.settings.public_url
    item = playback.find_item(session, public_id=mediaId)  # 404 when unknown
    signed = state.guard.check_item(item, audience=AUD_VIDEO, token=token)
    page = embed.embed_page(public_url=public_url, media_id=mediaId, token=token if signed else None)
    cache = "private, no-store" if signed else "public, max-age=60"
    return HTMLResponse(page, headers={"Cache-Control": cache})
