"""The one builder of player embeds: the snippet of ``/api/v1/media/{id}/embed`` and the ``<iframe>``
page of ``/embed/{id}`` share the script tag and the ``new VSRCPlayer(...)`` call built here."""

from __future__ import annotations

import html


def js_string(value: str) -> str:
    """A single-quoted JavaScript string literal, safe inside an inline ``<script>``."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("<", "\\x3c")
    return f"'{escaped}'"


def player_type(media_id: str) -> str:
    return "live" if media_id.startswith("live_") else "vod"


def _script_tag(public_url: str) -> str:
    return f'<script src="{html.escape(f"{public_url}/player/dist/vsrc-player.js")}"></script>'


def _player_call(
    *,
    element_id: str,
    media_id: str,
    kind: str,
    public_url: str,
    callbacks: bool,
    token: str | None = None,
    signed: bool = False,
) -> str:
    options = [
        f"    type: '{kind}'",
        f"    mediaId: {js_string(media_id)}",
        f"    apiBase: {js_string(public_url)}",
    ]
    if token:
        options.append(f"    token: {js_string(token)}")
    elif signed:
        # A template for a signed item: the integrator's server signs a token per viewer.
        options[-1] += ",\n    // signed playback: add  token: '<JWT signed by your server>'"
    if callbacks:
        options += [
            "    onReady: (playerInstance) => {\n      console.log('VSRCPlayer is ready');\n    }",
            "    onError: (error) => {\n      console.error('Error occurred', error);\n    }",
        ]
    return f"new VSRCPlayer('#{element_id}', {{\n" + ",\n".join(options) + "\n  });"


def embed_code(
    *, public_url: str, media_id: str, player_type: str, token: str | None = None, signed: bool = False
) -> str:
    """The snippet of the seed: a video.js element, the player script, and the VSRCPlayer call; with
    a ``token`` option when one is given (or a reminder to add one for a signed item)."""
    element_id = f"{player_type}-player-{media_id.split('_', 1)[1].replace('-', '')[:12]}"
    call = _player_call(
        element_id=element_id,
        media_id=media_id,
        kind=player_type,
        public_url=public_url,
        callbacks=True,
        token=token,
        signed=signed,
    )
    return (
        f'<video id="{element_id}" class="video-js vjs-default-skin" controls></video>\n\n'
        "<!-- VSRCPlayer Library -->\n"
        f"{_script_tag(public_url)}\n\n"
        "<script>\n"
        f"  const player = {call}\n"
        "</script>\n"
    )


def embed_page(*, public_url: str, media_id: str, token: str | None = None) -> str:
    """A minimal responsive page playing one VOD or live item, for ``<iframe>`` embedding (``token``
    for a signed item)."""
    call = _player_call(
        element_id="vsrc-embed",
        media_id=media_id,
        kind=player_type(media_id),
        public_url=public_url,
        callbacks=False,
        token=token,
    )
    return _PAGE.format(title=html.escape(media_id), script=_script_tag(public_url), call=call)


_PAGE = """<!doctype html>
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
{script}
<script>
  window.vsrcPlayer = {call}
</script>
</body>
</html>
"""
