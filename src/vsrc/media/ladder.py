"""Encoding profiles and per-source ladder planning (pure).

Rung fitting rule
-----------------
A rung named ``"<H>p"`` stands for the 16:9 box ``H*16/9 x H`` in the source's orientation
(``H x H*16/9`` for portrait). The rendition is the source scaled down, aspect ratio preserved,
to fit inside that box; it is never scaled up. A rung is used only when the source reaches the box
in at least one dimension (short side >= H or long side >= H*16/9). For every source up to 16:9
this is exactly "compare by the short side" (1920x1080 and 1080x1920 both get 1080p, as
1920x1080 and 1080x1920); for wider sources (1920x800 cinema) it keeps the full width as "1080p"
instead of dropping to a 720p top rung. Dimensions are rounded to even numbers (never above the
source). When the source is smaller than the smallest rung, one rung at the source size is
produced, named after its short side (e.g. ``"180p"``), with the smallest rung's bit rate scaled
by pixel count (at least a quarter of it).

Fast start
----------
``Profile.first_segment_seconds`` (default 1) makes the first HLS segment short, so every rung lists
a segment after ~1 s of content instead of ``segment_seconds`` (docs/architecture.md, "Fast
start"). ffmpeg's HLS muxer cuts a segment at the first keyframe at or after ``n * hls_time``;
``-hls_init_time`` would do this, but only for sliding-window playlists (with EVENT playlists every
segment gets the init length). So in fast-start mode the keyframes themselves define the
segments: IDR frames at 0, ``F``, ``F + S``, ``F + 2S``, ... (``F`` the first segment, ``S``
``segment_seconds``) and ``hls_time = F``, which cuts at every keyframe. The GOP after the first
segment is then the segment length (``gop_seconds`` applies only without fast start). The
grid is time-based and identical for every rung, so boundaries stay aligned across renditions.

VBV defaults: ``maxrate = 1.07 x video_bitrate`` and ``bufsize = 1.5 x video_bitrate`` unless a
rung sets them. The master playlist advertises ``BANDWIDTH = maxrate + audio`` and
``AVERAGE-BANDWIDTH = video_bitrate + audio`` before measurement (see :mod:`vsrc.media.playlists`).

Output frame rate
-----------------
:func:`output_frame_rate` picks one constant output rate for all rungs: the source's nominal
rate (e.g. exactly 30000/1001) when sane, else its average rate, divided down to at most
``Profile.max_fps`` (120 -> 60, 50 stays 50). VFR sources are converted to that constant rate
(frames duplicated or dropped by ffmpeg's ``fps`` filter), which keeps the 2-second IDR grid
and segment boundaries identical across renditions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal, TypeAlias, get_args

from vsrc.media.h264 import h264_level
from vsrc.media.probe import SourceInfo

__all__ = [
    "BUFSIZE_FACTOR",
    "DEFAULT_PROFILE",
    "MAXRATE_FACTOR",
    "PlannedRung",
    "Profile",
    "Rung",
    "gop_frames",
    "keyframe_plan",
    "ladder_for",
    "output_frame_rate",
]

MAXRATE_FACTOR = 1.07
BUFSIZE_FACTOR = 1.5

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True, slots=True)
class Rung:
    """One rung of a profile. ``height`` is the short side of the rung's 16:9 box; bit rates in
    bits/s, ``bufsize`` in bits. ``maxrate``/``bufsize`` of 0 mean "derive from video_bitrate"
    (x1.07 and x1.5); after construction they always hold the effective values."""

    name: str
    height: int
    video_bitrate: int
    maxrate: int = 0
    bufsize: int = 0

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ValueError(f"rung name {self.name!r} must match {_NAME_RE.pattern}")
        if self.height < 2:
            raise ValueError("rung height must be >= 2")
        if self.video_bitrate <= 0:
            raise ValueError("rung video_bitrate must be > 0")
        if self.maxrate <= 0:
            object.__setattr__(self, "maxrate", round(self.video_bitrate * MAXRATE_FACTOR))
        if self.bufsize <= 0:
            object.__setattr__(self, "bufsize", round(self.video_bitrate * BUFSIZE_FACTOR))
        if self.maxrate < self.video_bitrate:
            raise ValueError("rung maxrate must be >= video_bitrate")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "height": self.height,
            "video_bitrate": self.video_bitrate,
            "maxrate": self.maxrate,
            "bufsize": self.bufsize,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rung:
        return cls(
            name=str(data["name"]),
            height=int(data["height"]),
            video_bitrate=int(data["video_bitrate"]),
            maxrate=int(data.get("maxrate") or 0),
            bufsize=int(data.get("bufsize") or 0),
        )


@dataclass(frozen=True, slots=True)
class Profile:
    """An encoding profile (stored, editable, in the database as :meth:`to_dict`)."""

    rungs: tuple[Rung, ...]
    audio_bitrate: int = 128_000
    preset: str = "veryfast"
    segment_seconds: float = 4
    gop_seconds: float = 2
    audio_sample_rate: int = 48_000
    audio_channels: int = 2
    max_fps: int = 60
    first_segment_seconds: float = 1

    @property
    def fast_start(self) -> bool:
        """A short first segment is cut (see the module doc)."""
        return 0 < self.first_segment_seconds < self.segment_seconds

    def __post_init__(self) -> None:
        rungs = tuple(sorted(self.rungs, key=lambda r: (-r.height, -r.video_bitrate)))
        object.__setattr__(self, "rungs", rungs)
        if not rungs:
            raise ValueError("a profile needs at least one rung")
        names = [r.name for r in rungs]
        if len(set(names)) != len(names):
            raise ValueError("rung names must be unique")
        if self.gop_seconds <= 0 or self.segment_seconds <= 0:
            raise ValueError("gop_seconds and segment_seconds must be > 0")
        ratio = self.segment_seconds / self.gop_seconds
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ValueError("segment_seconds must be a whole multiple of gop_seconds")
        if self.first_segment_seconds != 0 and not 0.5 <= self.first_segment_seconds <= self.segment_seconds:
            raise ValueError("first_segment_seconds must be 0 (off) or between 0.5 and segment_seconds")
        if self.audio_bitrate <= 0 or self.max_fps <= 0:
            raise ValueError("audio_bitrate and max_fps must be > 0")
        if self.preset not in X264_PRESETS:
            raise ValueError(f"unknown x264 preset {self.preset!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "rungs": [r.to_dict() for r in self.rungs],
            "audio_bitrate": self.audio_bitrate,
            "preset": self.preset,
            "segment_seconds": self.segment_seconds,
            "gop_seconds": self.gop_seconds,
            "audio_sample_rate": self.audio_sample_rate,
            "audio_channels": self.audio_channels,
            "max_fps": self.max_fps,
            "first_segment_seconds": self.first_segment_seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        """Inverse of :meth:`to_dict`; missing optional keys take the defaults."""
        rungs: Iterable[Mapping[str, Any]] = data["rungs"]
        kwargs: dict[str, Any] = {}
        for key, conv in (
            ("audio_bitrate", int),
            ("preset", str),
            ("segment_seconds", float),
            ("gop_seconds", float),
            ("audio_sample_rate", int),
            ("audio_channels", int),
            ("max_fps", int),
            ("first_segment_seconds", float),
        ):
            if data.get(key) is not None:
                kwargs[key] = conv(data[key])
        return cls(rungs=tuple(Rung.from_dict(r) for r in rungs), **kwargs)


#: The x264 presets a profile may name, fastest first: the one list the API document and the ladder
#: share. "placebo" is left out: x264's documentation calls it a waste of time (far slower than
#: veryslow for a gain nobody sees), and an encode that slow would spend its time limit
#: (``time_limit``) and hold a worker for nothing.
X264Preset: TypeAlias = Literal[
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
]
X264_PRESETS: tuple[str, ...] = get_args(X264Preset)

DEFAULT_PROFILE = Profile(
    rungs=(
        Rung("2160p", 2160, 12_000_000),
        Rung("1440p", 1440, 8_000_000),
        Rung("1080p", 1080, 5_000_000),
        Rung("720p", 720, 2_800_000),
        Rung("480p", 480, 1_400_000),
        Rung("360p", 360, 800_000),
        Rung("240p", 240, 400_000),
    ),
    audio_bitrate=128_000,
    preset="veryfast",
    segment_seconds=4,
    gop_seconds=2,
)


@dataclass(frozen=True, slots=True)
class PlannedRung:
    """A rung planned for one source: output size in display orientation, rates in bits/s,
    ``level`` the H.264 level_idc (31 = 3.1) passed to x264 and used for CODECS."""

    name: str
    width: int
    height: int
    video_bitrate: int
    maxrate: int
    bufsize: int
    level: int = field(default=0)

    @property
    def resolution(self) -> str:
        return f"{self.width}x{self.height}"


def _even_round(value: float) -> int:
    return max(2, round(value / 2) * 2)


def _even_floor(value: int) -> int:
    return max(2, value // 2 * 2)


def output_frame_rate(source: SourceInfo, max_fps: int = 60) -> Fraction:
    """The constant frame rate every rendition of ``source`` is encoded at (see module doc)."""
    candidates: list[Fraction] = []
    if source.frame_rate is not None and source.frame_rate > 0:
        candidates.append(Fraction(source.frame_rate))
    if source.fps > 0 and math.isfinite(source.fps):
        candidates.append(Fraction(source.fps).limit_denominator(1001))
    rate = Fraction(30)
    for cand in candidates:
        # Nominal rates far above the average (timebase-derived guesses like 90000 or 1000 on
        # VFR files) are not real frame rates; the average is used then.
        if 1 <= cand <= 240 and (source.fps <= 0 or cand <= 2.5 * Fraction(source.fps)):
            rate = cand
            break
    if rate > max_fps:
        rate = rate / math.ceil(rate / max_fps)
    return rate


def gop_frames(frame_rate: Fraction, gop_seconds: float) -> int:
    """Frames per GOP at ``frame_rate`` (rounded, at least 1)."""
    return max(1, round(float(frame_rate) * gop_seconds))


@dataclass(frozen=True, slots=True)
class KeyframePlan:
    """Where IDR frames and segment cuts go: ``times_expr`` for ``-force_key_frames expr:...``,
    ``gop`` frames for ``-g``/``-keyint_min`` and ``hls_time`` for the HLS muxer."""

    times_expr: str
    gop: int
    hls_time: float


def _num(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def keyframe_plan(frame_rate: Fraction, profile: Profile) -> KeyframePlan:
    """The IDR grid and segmenting of ``profile`` at ``frame_rate`` (see the module doc)."""
    if profile.fast_start:
        first, every = _num(profile.first_segment_seconds), _num(profile.segment_seconds)
        return KeyframePlan(
            times_expr=f"gte(t,if(n_forced,{first}+(n_forced-1)*{every},0))",
            gop=gop_frames(frame_rate, profile.segment_seconds),
            hls_time=profile.first_segment_seconds,
        )
    return KeyframePlan(
        times_expr=f"gte(t,n_forced*{_num(profile.gop_seconds)})",
        gop=gop_frames(frame_rate, profile.gop_seconds),
        hls_time=profile.segment_seconds,
    )


def _fit(src_w: int, src_h: int, box_long: Fraction, box_short: int) -> tuple[int, int]:
    src_long, src_short = max(src_w, src_h), min(src_w, src_h)
    scale = min(Fraction(1), box_long / src_long, Fraction(box_short, src_short))
    w = min(_even_round(float(src_w * scale)), _even_floor(src_w))
    h = min(_even_round(float(src_h * scale)), _even_floor(src_h))
    return w, h


def ladder_for(source: SourceInfo, profile: Profile = DEFAULT_PROFILE) -> list[PlannedRung]:
    """Renditions to encode for ``source``, largest first (see the module doc for the rules)."""
    src_w, src_h = source.display_width, source.display_height
    if src_w < 2 or src_h < 2:
        raise ValueError("source has no usable picture size")
    src_long, src_short = max(src_w, src_h), min(src_w, src_h)
    fps = float(output_frame_rate(source, profile.max_fps))

    planned: list[PlannedRung] = []
    seen: set[tuple[int, int]] = set()
    for rung in profile.rungs:
        box_long = Fraction(rung.height * 16, 9)
        if src_short < rung.height and src_long < box_long:
            continue
        w, h = _fit(src_w, src_h, box_long, rung.height)
        if (w, h) in seen:
            continue
        seen.add((w, h))
        planned.append(
            PlannedRung(
                name=rung.name,
                width=w,
                height=h,
                video_bitrate=rung.video_bitrate,
                maxrate=rung.maxrate,
                bufsize=rung.bufsize,
                level=h264_level(w, h, fps, rung.maxrate, rung.bufsize),
            )
        )

    if not planned:
        smallest = profile.rungs[-1]
        w, h = _even_floor(src_w), _even_floor(src_h)
        box_area = smallest.height * smallest.height * 16 / 9
        factor = min(1.0, max(0.25, (w * h) / box_area))
        bitrate = max(1000, round(smallest.video_bitrate * factor))
        maxrate = round(bitrate * MAXRATE_FACTOR)
        bufsize = round(bitrate * BUFSIZE_FACTOR)
        name = f"{min(w, h)}p"
        planned.append(
            PlannedRung(
                name=name,
                width=w,
                height=h,
                video_bitrate=bitrate,
                maxrate=maxrate,
                bufsize=bufsize,
                level=h264_level(w, h, fps, maxrate, bufsize),
            )
        )
    return planned
