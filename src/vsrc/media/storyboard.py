"""Storyboard (thumbnail sprite) planning and its WebVTT track (pure).

The sprite is one JPEG holding ``count`` thumbnails of ``tile_width x tile_height`` pixels in a
grid of ``columns x rows``, row by row; thumbnail ``k`` shows the picture at ``k * interval``
seconds and covers the cue ``[k * interval, min((k + 1) * interval, duration))``. The VTT track
points each cue at its tile with a media fragment: ``storyboard.jpg#xywh=x,y,w,h``
(the format video.js thumbnail plugins, Mux and JW Player use).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["StoryboardPlan", "format_vtt_timestamp", "plan_storyboard", "storyboard_vtt"]


@dataclass(frozen=True, slots=True)
class StoryboardPlan:
    interval: float
    count: int
    columns: int
    rows: int
    tile_width: int
    tile_height: int

    @property
    def sprite_width(self) -> int:
        return self.columns * self.tile_width

    @property
    def sprite_height(self) -> int:
        return self.rows * self.tile_height

    def tile_xy(self, index: int) -> tuple[int, int]:
        """Top-left pixel of thumbnail ``index`` in the sprite."""
        return (index % self.columns) * self.tile_width, (index // self.columns) * self.tile_height


def plan_storyboard(
    duration: float,
    width: int,
    height: int,
    *,
    interval: float = 5.0,
    tile_width: int = 160,
    columns: int = 10,
    max_tiles: int = 100,
) -> StoryboardPlan:
    """Plan a sprite for a video of ``duration`` seconds whose pictures are ``width x height``.

    One thumbnail every ``interval`` seconds, widened (to a whole number of seconds) when that
    would need more than ``max_tiles`` thumbnails. Tiles are ``tile_width`` wide (never wider than
    the video) with the video's aspect ratio, even sizes.
    """
    if width <= 0 or height <= 0:
        raise ValueError("width and height must be > 0")
    if interval <= 0 or tile_width < 2 or columns < 1 or max_tiles < 1:
        raise ValueError("interval, tile_width, columns and max_tiles must be positive")
    duration = max(0.0, duration)
    if duration / interval > max_tiles:
        interval = float(math.ceil(duration / max_tiles))
    count = max(1, math.ceil(duration / interval - 1e-9))
    tw = min(tile_width, width)
    tw = max(2, tw // 2 * 2)
    th = max(2, round(tw * height / width / 2) * 2)
    cols = min(columns, count)
    rows = math.ceil(count / cols)
    return StoryboardPlan(
        interval=interval, count=count, columns=cols, rows=rows, tile_width=tw, tile_height=th
    )


def format_vtt_timestamp(seconds: float) -> str:
    """``3725.5`` -> ``"01:02:05.500"``."""
    ms = max(0, round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def storyboard_vtt(plan: StoryboardPlan, duration: float, sprite_url: str = "storyboard.jpg") -> str:
    """The WebVTT thumbnail track for a sprite made from ``plan`` (one cue per thumbnail)."""
    lines = ["WEBVTT", ""]
    for k in range(plan.count):
        start = k * plan.interval
        end = (k + 1) * plan.interval
        if k == plan.count - 1 and duration > start:
            end = min(end, duration)  # the last cue ends with the video
        x, y = plan.tile_xy(k)
        lines.append(f"{format_vtt_timestamp(start)} --> {format_vtt_timestamp(end)}")
        lines.append(f"{sprite_url}#xywh={x},{y},{plan.tile_width},{plan.tile_height}")
        lines.append("")
    return "\n".join(lines)
