"""Pure unit tests of ladder planning (no ffmpeg)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from vsrc.media.h264 import avc_codec_string, avc_codec_string_from_sps, h264_level, level_name
from vsrc.media.ladder import (
    DEFAULT_PROFILE,
    PlannedRung,
    Profile,
    Rung,
    gop_frames,
    ladder_for,
    output_frame_rate,
)
from vsrc.media.probe import SourceInfo


def make_info(
    width: int,
    height: int,
    *,
    rotation: int = 0,
    fps: float = 30.0,
    frame_rate: Fraction | None = Fraction(30),
    has_audio: bool = True,
) -> SourceInfo:
    dw, dh = (height, width) if rotation in (90, 270) else (width, height)
    return SourceInfo(
        width=width,
        height=height,
        rotation=rotation,
        display_width=dw,
        display_height=dh,
        fps=fps,
        duration=60.0,
        has_audio=has_audio,
        video_codec="h264",
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
        mime_type="video/mp4",
        bit_rate=10_000_000,
        frame_rate=frame_rate,
        audio_stream_index=1 if has_audio else None,
    )


def sizes(rungs: list[PlannedRung]) -> list[tuple[str, int, int]]:
    return [(r.name, r.width, r.height) for r in rungs]


def test_default_profile() -> None:
    p = DEFAULT_PROFILE
    assert [(r.name, r.height, r.video_bitrate) for r in p.rungs] == [
        ("2160p", 2160, 12_000_000),
        ("1440p", 1440, 8_000_000),
        ("1080p", 1080, 5_000_000),
        ("720p", 720, 2_800_000),
        ("480p", 480, 1_400_000),
        ("360p", 360, 800_000),
        ("240p", 240, 400_000),
    ]
    assert (p.audio_bitrate, p.preset, p.segment_seconds, p.gop_seconds) == (128_000, "veryfast", 4, 2)
    for r in p.rungs:
        assert r.maxrate == round(r.video_bitrate * 1.07)
        assert r.bufsize == round(r.video_bitrate * 1.5)


def test_4k_source_gets_every_rung() -> None:
    rungs = ladder_for(make_info(3840, 2160))
    assert sizes(rungs) == [
        ("2160p", 3840, 2160),
        ("1440p", 2560, 1440),
        ("1080p", 1920, 1080),
        ("720p", 1280, 720),
        ("480p", 854, 480),
        ("360p", 640, 360),
        ("240p", 426, 240),
    ]
    top = rungs[0]
    assert (top.video_bitrate, top.maxrate, top.bufsize) == (12_000_000, 12_840_000, 18_000_000)
    assert [r.level for r in rungs] == [51, 50, 40, 31, 31, 30, 21]


def test_1080p_source_no_rung_above() -> None:
    assert [r.name for r in ladder_for(make_info(1920, 1080))] == ["1080p", "720p", "480p", "360p", "240p"]


def test_between_rungs() -> None:
    assert sizes(ladder_for(make_info(1000, 562)))[0] == ("480p", 854, 480)


def test_portrait_compares_short_side() -> None:
    rungs = ladder_for(make_info(1080, 1920))
    assert sizes(rungs) == [
        ("1080p", 1080, 1920),
        ("720p", 720, 1280),
        ("480p", 480, 854),
        ("360p", 360, 640),
        ("240p", 240, 426),
    ]


def test_rotated_source_planned_in_display_orientation() -> None:
    info = make_info(1920, 1080, rotation=90)
    assert (info.display_width, info.display_height) == (1080, 1920)
    assert sizes(ladder_for(info)) == sizes(ladder_for(make_info(1080, 1920)))


def test_4_3_source() -> None:
    assert sizes(ladder_for(make_info(1440, 1080)))[:2] == [("1080p", 1440, 1080), ("720p", 960, 720)]


def test_cinema_source_keeps_full_width() -> None:
    # 2.4:1 1920x800 reaches the 1080p box by its width: "1080p" is the full 1920x800.
    assert sizes(ladder_for(make_info(1920, 800)))[:2] == [("1080p", 1920, 800), ("720p", 1280, 534)]


def test_odd_source() -> None:
    assert sizes(ladder_for(make_info(321, 241))) == [("240p", 320, 240)]


def test_tiny_source_gets_one_rung_at_source_size() -> None:
    rungs = ladder_for(make_info(160, 90))
    assert sizes(rungs) == [("90p", 160, 90)]
    assert 100_000 <= rungs[0].video_bitrate < 400_000
    odd = ladder_for(make_info(175, 99))
    assert sizes(odd) == [("98p", 174, 98)]


def test_small_custom_profile() -> None:
    profile = Profile(
        rungs=(Rung("240p", 240, 250_000), Rung("360p", 360, 400_000), Rung("144p", 144, 120_000)),
        preset="ultrafast",
        segment_seconds=2,
    )
    assert [r.name for r in profile.rungs] == ["360p", "240p", "144p"]  # sorted largest first
    assert sizes(ladder_for(make_info(640, 360), profile)) == [
        ("360p", 640, 360),
        ("240p", 426, 240),
        ("144p", 256, 144),
    ]


@given(
    w=st.integers(min_value=16, max_value=8192),
    h=st.integers(min_value=16, max_value=8192),
    rotation=st.sampled_from([0, 90, 180, 270]),
)
def test_ladder_invariants(w: int, h: int, rotation: int) -> None:
    assume(max(w, h) <= 10 * min(w, h))
    info = make_info(w, h, rotation=rotation)
    rungs = ladder_for(info)
    assert rungs
    src_aspect = info.display_width / info.display_height
    prev_area = None
    for r in rungs:
        assert r.width % 2 == 0 and r.height % 2 == 0
        assert r.width <= max(2, info.display_width) and r.height <= max(2, info.display_height)
        assert (
            (r.width > r.height) == (info.display_width > info.display_height)
            or r.width == r.height
            or (abs(info.display_width - info.display_height) <= 2)
        )
        # aspect preserved up to even rounding (each side off by at most one pixel)
        assert abs(r.width / r.height - src_aspect) / src_aspect <= 1.01 * (1 / r.width + 1 / r.height)
        assert r.maxrate >= r.video_bitrate and r.bufsize > 0 and r.level >= 10
        area = r.width * r.height
        assert prev_area is None or area < prev_area
        prev_area = area
    if len(rungs) > 1 or rungs[0].name in {r.name for r in DEFAULT_PROFILE.rungs}:
        # no rung whose box is entirely above the source
        short, long_ = (
            min(info.display_width, info.display_height),
            max(info.display_width, info.display_height),
        )
        by_name = {r.name: r for r in DEFAULT_PROFILE.rungs}
        for r in rungs:
            rung = by_name[r.name]
            assert short >= rung.height or long_ >= rung.height * 16 / 9


def test_output_frame_rate() -> None:
    assert output_frame_rate(make_info(640, 360, fps=29.97, frame_rate=Fraction(30000, 1001))) == Fraction(
        30000, 1001
    )
    assert output_frame_rate(make_info(640, 360, fps=120, frame_rate=Fraction(120))) == 60
    assert output_frame_rate(make_info(640, 360, fps=50, frame_rate=Fraction(50))) == 50
    # VFR phone clip: nominal 30, average 26 -> 30
    assert output_frame_rate(make_info(640, 360, fps=26.0, frame_rate=Fraction(30))) == 30
    # nonsense nominal rate from a timebase -> the average
    assert output_frame_rate(make_info(640, 360, fps=24.5, frame_rate=Fraction(90000))) == Fraction(49, 2)
    assert output_frame_rate(make_info(640, 360, fps=0.0, frame_rate=None)) == 30


def test_gop_frames() -> None:
    assert gop_frames(Fraction(30000, 1001), 2) == 60
    assert gop_frames(Fraction(25), 2) == 50
    assert gop_frames(Fraction(60), 2) == 120


def test_profile_validation_and_roundtrip() -> None:
    with pytest.raises(ValueError):
        Profile(rungs=())
    with pytest.raises(ValueError):
        Profile(rungs=(Rung("a", 240, 1), Rung("a", 360, 1)))
    with pytest.raises(ValueError):
        Profile(rungs=(Rung("a", 240, 1),), segment_seconds=5, gop_seconds=2)
    with pytest.raises(ValueError):
        Profile(rungs=(Rung("a", 240, 1),), preset="warp")
    for first in (-1, 0.25, 5):  # off (0) or 0.5 .. segment_seconds
        with pytest.raises(ValueError):
            Profile(rungs=(Rung("a", 240, 1),), segment_seconds=4, first_segment_seconds=first)
    assert DEFAULT_PROFILE.first_segment_seconds == 1 and DEFAULT_PROFILE.fast_start
    assert not Profile(rungs=(Rung("a", 240, 1),), segment_seconds=2, first_segment_seconds=2).fast_start
    assert not Profile(rungs=(Rung("a", 240, 1),), first_segment_seconds=0).fast_start
    with pytest.raises(ValueError):
        Rung("../x", 240, 1)
    with pytest.raises(ValueError):
        Rung("x", 240, 1000, maxrate=10)
    assert Profile.from_dict(DEFAULT_PROFILE.to_dict()) == DEFAULT_PROFILE
    legacy = Profile(rungs=(Rung("a", 240, 1),), first_segment_seconds=0)
    assert Profile.from_dict(legacy.to_dict()) == legacy
    assert Profile.from_dict({"rungs": [{"name": "720p", "height": 720, "video_bitrate": 2_800_000}]}).rungs[
        0
    ].maxrate == round(2_800_000 * 1.07)


def test_h264_levels_and_codec_strings() -> None:
    assert h264_level(1920, 1080, 30, 5_350_000, 7_500_000) == 40
    assert h264_level(1920, 1080, 60, 5_350_000, 7_500_000) == 42
    assert h264_level(1280, 720, 30, 3_000_000, 4_200_000) == 31
    assert h264_level(1080, 1920, 30, 5_350_000, 7_500_000) == 40
    assert h264_level(3840, 2160, 30, 12_840_000, 18_000_000) == 51
    assert level_name(31) == "3.1"
    assert avc_codec_string("high", 31) == "avc1.64001f"
    assert avc_codec_string("baseline", 30) == "avc1.42c01e"
    sps = b"\x00\x00\x00\x01\x09\xf0\x00\x00\x00\x01\x67\x64\x00\x28\xac"
    assert avc_codec_string_from_sps(sps) == "avc1.640028"
    assert avc_codec_string_from_sps(b"\x00\x00\x01\x65\x88") is None
