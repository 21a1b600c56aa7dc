"""``vsrc tokens``: sign playback tokens for signed media, offline, from a signing key's private key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

tokens_app = typer.Typer(help="Sign playback tokens for signed media.", no_args_is_help=True)
err = Console(stderr=True)

_DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """``90``, ``45s``, ``30m``, ``1h``, ``7d`` → seconds; ``ValueError`` otherwise (or when zero)."""
    match = _DURATION_RE.match(text.lower())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 30m, 1h, 7d)")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


@tokens_app.command("sign")
def tokens_sign(
    key_file: Annotated[
        Path,
        typer.Option("--key-file", help="The signing key's private key (PEM, or the JSON of its creation)"),
    ],
    media: Annotated[str, typer.Option("--media", help="The mediaId (vod_… or live_…) the token plays")],
    expires: Annotated[str, typer.Option("--expires", help="Lifetime: 90s, 30m, 1h, 7d")] = "1h",
    aud: Annotated[
        str, typer.Option("--aud", help="v (video), t (poster/thumbnails), s (storyboard) or e.g. v,t,s")
    ] = "v",
    key_id: Annotated[
        str | None, typer.Option("--key-id", help="keyId for the kid header (default: derived from the key)")
    ] = None,
) -> None:
    """Print a playback token (RS256 JWT) on stdout, e.g. to append as ``?token=`` to playback URLs."""
    from vsrc.errors import ValidationFailed
    from vsrc.ids import MEDIA_ID_RE
    from vsrc.services.tokens import load_private_key, parse_audience, sign_token

    try:
        seconds = parse_duration(expires)
        audiences = parse_audience(aud)
        if not MEDIA_ID_RE.match(media):
            raise ValueError(f"--media must be a vod_… or live_… id, not {media!r}")
        private_key, derived_id = load_private_key(key_file.read_text(encoding="utf-8"))
    except (ValueError, TypeError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except ValidationFailed as exc:
        err.print(f"[red]error:[/red] {exc.errors[0].message}")
        raise typer.Exit(2) from exc
    audience: str | list[str] = audiences[0] if len(audiences) == 1 else audiences
    typer.echo(
        sign_token(
            private_key, media_id=media, expires_in=seconds, audience=audience, key_id=key_id or derived_id
        )
    )
