"""H.264 level selection and RFC 6381 codec strings (``avc1.PPCCLL``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "PROFILE_IDC",
    "avc_codec_string",
    "avc_codec_string_from_sps",
    "h264_level",
    "level_name",
    "x264_profile_for_preset",
]

#: profile_idc values of the H.264 profiles we produce.
PROFILE_IDC: dict[str, int] = {"baseline": 66, "main": 77, "high": 100}


@dataclass(frozen=True, slots=True)
class _Level:
    idc: int
    max_mbps: int  # macroblocks per second
    max_fs: int  # macroblocks per frame
    max_br: int  # kbit/s (Baseline/Main; High may use x1.25, we do not count on it)
    max_cpb: int  # kbit


# ITU-T H.264 Table A-1 (level 1b omitted).
_LEVELS: tuple[_Level, ...] = (
    _Level(10, 1485, 99, 64, 175),
    _Level(11, 3000, 396, 192, 500),
    _Level(12, 6000, 396, 384, 1000),
    _Level(13, 11880, 396, 768, 2000),
    _Level(20, 11880, 396, 2000, 2000),
    _Level(21, 19800, 792, 4000, 4000),
    _Level(22, 20250, 1620, 4000, 4000),
    _Level(30, 40500, 1620, 10000, 10000),
    _Level(31, 108000, 3600, 14000, 14000),
    _Level(32, 216000, 5120, 20000, 20000),
    _Level(40, 245760, 8192, 20000, 25000),
    _Level(41, 245760, 8192, 50000, 62500),
    _Level(42, 522240, 8704, 50000, 62500),
    _Level(50, 589824, 22080, 135000, 135000),
    _Level(51, 983040, 36864, 240000, 240000),
    _Level(52, 2073600, 36864, 240000, 240000),
    _Level(60, 4177920, 139264, 240000, 240000),
    _Level(61, 8355840, 139264, 480000, 480000),
    _Level(62, 16711680, 139264, 800000, 800000),
)


def h264_level(width: int, height: int, fps: float, maxrate: int = 0, bufsize: int = 0) -> int:
    """Smallest H.264 ``level_idc`` (e.g. 31 for level 3.1) allowing this picture size, frame
    rate and VBV (bits/s, bits). Also checks each dimension against sqrt(8 * MaxFS) macroblocks.
    Uses the Baseline/Main bit-rate limits, so the answer is valid for every profile."""
    mb_w = math.ceil(width / 16)
    mb_h = math.ceil(height / 16)
    frame_mbs = mb_w * mb_h
    mbps = frame_mbs * max(fps, 1.0)
    for lvl in _LEVELS:
        side = math.sqrt(8 * lvl.max_fs)
        if (
            frame_mbs <= lvl.max_fs
            and mb_w <= side
            and mb_h <= side
            and mbps <= lvl.max_mbps * 1.0001
            and maxrate <= lvl.max_br * 1000
            and bufsize <= lvl.max_cpb * 1000
        ):
            return lvl.idc
    return _LEVELS[-1].idc


def level_name(level_idc: int) -> str:
    """``31`` -> ``"3.1"`` (the form ffmpeg's ``-level`` option takes)."""
    return f"{level_idc // 10}.{level_idc % 10}"


def x264_profile_for_preset(preset: str) -> str:
    """The profile libx264 actually signals for 8-bit 4:2:0 with ``-profile:v high`` as the cap.

    x264 picks the smallest profile the enabled tools need: ``ultrafast`` turns off CABAC, B-frames
    and 8x8 transforms, so it produces Constrained Baseline; every other preset produces High.
    """
    return "baseline" if preset == "ultrafast" else "high"


def avc_codec_string(profile: str | int, level_idc: int, constraint_flags: int | None = None) -> str:
    """RFC 6381 codec string: ``avc1.`` + profile_idc, constraint flags, level_idc in hex.

    ``profile`` is a name from :data:`PROFILE_IDC` or a profile_idc. For ``baseline`` the
    constraint_set0/1 flags (Constrained Baseline, what x264 writes) are assumed unless given.
    """
    idc = PROFILE_IDC[profile] if isinstance(profile, str) else profile
    if constraint_flags is None:
        constraint_flags = 0xC0 if idc == PROFILE_IDC["baseline"] else 0x00
    return f"avc1.{idc:02x}{constraint_flags:02x}{level_idc:02x}"


def avc_codec_string_from_sps(data: bytes) -> str | None:
    """Codec string from the first SPS NAL unit found in Annex-B data (e.g. an MPEG-TS packet
    payload as PyAV returns it), or None when there is none."""
    i = 0
    n = len(data)
    while True:
        i = data.find(b"\x00\x00\x01", i)
        if i < 0 or i + 6 >= n:
            return None
        nal_header = data[i + 3]
        if nal_header & 0x1F == 7:
            profile_idc, flags, level_idc = data[i + 4], data[i + 5], data[i + 6]
            return f"avc1.{profile_idc:02x}{flags:02x}{level_idc:02x}"
        i += 3
