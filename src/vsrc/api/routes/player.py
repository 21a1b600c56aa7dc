"""The player bundle (``/player/dist/...``) and the ``<iframe>`` embed page (``/embed/{mediaId}``)."""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from vsrc.api.deps import SessionDep, StateDep
from vsrc.errors import NotFound
from vsrc.services import playback
from vsrc.services.embed import js_string

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
def embed_page(mediaId: str, session: SessionDep, state: StateDep) -> HTMLResponse:
    """A minimal responsive page playing one VOD or live item, for ``<iframe>`` embedding."""
    public_url = state.settings.public_url
    playback.resolve_master(session, public_id=mediaId, public_url=public_url)  # 404 when unknown
    kind = "live" if mediaId.startswith("live_") else "vod"
    page = EMBED_PAGE.format(
        title=html.escape(mediaId),
        script=html.escape(f"{public_url}/player/dist/vsrc-player.js"),
        kind=kind,
        media_id=js_string(mediaId),
        api_base=js_string(public_url),
    )
    return HTMLResponse(page, headers={"Cache-Control": "public, max-age=60"})


EMBED_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
  html, body {{ margin: 0; height: 100%; background: #000; overflow: hidden; }}
  .video-js {{ width: 100%; height: 100%; }}
</style>
</head>
<body>
<video id="vsrc-embed" class="video-js vjs-default-skin" controls playsinline></video>
<script src="{script}"></script>
<script>
  window.vsrcPlayer = new VSRCPlayer('#vsrc-embed', {{
    type: '{kind}',
    mediaId: {media_id},
    apiBase: {api_base}
  }});
</script>
</body>
</html>
"""
