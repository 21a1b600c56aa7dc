"""Carrying a playback token through the files that name other files: HLS playlists and the
storyboard WebVTT. Only relative URIs get the token, so it never leaks to another host."""

from __future__ import annotations

import re
from urllib.parse import quote

_URI_ATTR = re.compile(r'URI="([^"]*)"')
_ABSOLUTE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.\-]*:|//)")


def _add_query(uri: str, query: str) -> str:
    if not uri or _ABSOLUTE.match(uri):
        return uri
    path, hash_, fragment = uri.partition("#")
    return f"{path}{'&' if '?' in path else '?'}{query}{hash_}{fragment}"


def _query(token: str) -> str:
    return "token=" + quote(token, safe="")


def tokenize_playlist(text: str, token: str) -> str:
    """Every relative URI of an HLS playlist (variant, segment, ``URI="…"`` attribute) with ``?token=``."""
    query = _query(token)
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            out.append(line)
        elif stripped.startswith("#"):
            if 'URI="' in line:  # most tags (#EXTINF, #EXT-X-STREAM-INF) name no URI
                line = _URI_ATTR.sub(lambda m: f'URI="{_add_query(m.group(1), query)}"', line)
            out.append(line)
        else:
            out.append(_add_query(stripped, query))
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def tokenize_vtt(text: str, token: str) -> str:
    """The cue payloads of a thumbnail WebVTT (``storyboard.jpg#xywh=…``) with ``?token=``."""
    query = _query(token)
    out = []
    after_timing = False
    for line in text.splitlines():
        if "-->" in line:
            after_timing = True
            out.append(line)
        elif after_timing and line.strip():
            out.append(_add_query(line.strip(), query))
            after_timing = False
        else:
            after_timing = False
            out.append(line)
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")
