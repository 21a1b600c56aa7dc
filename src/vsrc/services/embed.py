"""The HTML/JavaScript embed snippet for a VOD or live media item."""

from __future__ import annotations

import html


def js_string(value: str) -> str:
    """A single-quoted JavaScript string literal, safe inside an inline ``<script>``."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("<", "\\x3c")
    return f"'{escaped}'"


def embed_code(*, public_url: str, media_id: str, player_type: str) -> str:
    """The snippet of the seed: a video.js element, the player script, and the VSRCPlayer call."""
    element_id = f"{player_type}-player-{media_id.split('_', 1)[1].replace('-', '')[:12]}"
    script = html.escape(f"{public_url}/player/dist/vsrc-player.js")
    return (
        f'<video id="{element_id}" class="video-js vjs-default-skin" controls></video>\n\n'
        "<!-- VSRCPlayer Library -->\n"
        f'<script src="{script}"></script>\n\n'
        "<script>\n"
        f"  const player = new VSRCPlayer('#{element_id}', {{\n"
        f"    type: '{player_type}',\n"
        f"    mediaId: {js_string(media_id)},\n"
        f"    apiBase: {js_string(public_url)},\n"
        "    onReady: (playerInstance) => {\n"
        "      console.log('VSRCPlayer is ready');\n"
        "    },\n"
        "    onError: (error) => {\n"
        "      console.error('Error occurred', error);\n"
        "    }\n"
        "  });\n"
        "</script>\n"
    )
