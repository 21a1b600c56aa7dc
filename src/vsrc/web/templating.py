"""Jinja2 templates of the dashboard: one environment, a few filters, ``render`` for routes."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from vsrc.db.models import DEFAULT_TAG_COLOR

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"


def duration(seconds: float | None) -> str:
    """``1:05`` / ``1:02:03``; an empty string when unknown."""
    if seconds is None:
        return ""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def text_on(color: str) -> str:
    """Black or white, whichever reads better on the tag colour ``#rrggbb`` (WCAG relative luminance)."""
    try:
        channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    except ValueError:
        return "#fff"
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    # Contrast with white is (1.05)/(L+0.05), with black (L+0.05)/0.05: pick the larger.
    return "#000" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#fff"


_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def safe_color(color: str | None) -> str:
    """The tag colour if it is ``#rrggbb``, else the default grey (it lands in a style attribute)."""
    return color if color and _COLOR.match(color) else DEFAULT_TAG_COLOR


def filesize(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def within(seconds: float) -> str:
    """How soon every API process honours a change it caches for ``seconds`` (a revocation)."""
    return "at once" if seconds <= 0 else f"within {seconds:g} s"


@cache
def asset_version(name: str, root: str) -> str:
    """A content hash for cache-busting ``?v=`` (assets change only with a new install or build)."""
    path = Path(root) / name
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.is_file() else "0"


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(("html",)),
        trim_blocks=True,
        auto_reload=False,  # templates are package data: no stat() per render
        lstrip_blocks=True,
    )
    env.filters["duration"] = duration
    env.filters["text_on"] = text_on
    env.filters["filesize"] = filesize
    env.filters["safe_color"] = safe_color
    env.filters["within"] = within
    return env


def preview_tokens(request: Request, account_id: int, items: Iterable[Any]) -> dict[str, str]:
    """Playback tokens for the signed ones of ``items`` (media or live streams), by public id."""
    signer = request.app.state.web.preview
    return {
        item.public_id: signer.token(account_id=account_id, media_id=item.public_id)
        for item in items
        if item.playback_policy == "signed"
    }


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render ``templates/name`` with the request, the signed-in viewer (if any) and ``context``."""
    env: Environment = request.app.state.web.templates
    ctx: dict[str, Any] = {
        "request": request,
        "viewer": getattr(request.state, "viewer", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "public_url": request.app.state.vsrc.settings.public_url,
        "static": lambda f: f"/static/{f}?v={asset_version(f, str(STATIC_DIR))}",
        "js": lambda f: f"/static/js/{f}?v={asset_version(f, str(request.app.state.web.js_dir))}",
    }
    ctx.update(context or {})
    body = env.get_template(name).render(ctx)
    all_headers = {"Cache-Control": "no-store", **(headers or {})}
    return HTMLResponse(body, status_code=status_code, headers=all_headers)
