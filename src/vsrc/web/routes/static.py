"""The dashboard's CSS (package data) and JS (the player's esbuild step writes player/dist/dashboard/)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from vsrc.api.deps import StateDep
from vsrc.errors import NotFound
from vsrc.web.templating import STATIC_DIR

router = APIRouter(include_in_schema=False)

TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
# Names carry a ?v=<content hash> in the pages, so a long cache is safe.
CACHE = {"Cache-Control": "public, max-age=31536000, immutable"}


@router.get("/static/js/{name}")
def dashboard_js(name: str, state: StateDep) -> FileResponse:
    path = state.settings.player_dist / "dashboard" / name
    if "/" in name or path.suffix not in (".js", ".css") or not path.is_file():
        raise NotFound("Not found (is the player built? run 'make run')")
    return FileResponse(path, media_type=TYPES[path.suffix], headers=CACHE)


@router.get("/static/{name}")
def dashboard_static(name: str) -> FileResponse:
    path = STATIC_DIR / name
    suffix = path.suffix
    if "/" in name or suffix not in TYPES or not path.is_file():
        raise NotFound("Not found")
    return FileResponse(path, media_type=TYPES[suffix], headers=CACHE)
