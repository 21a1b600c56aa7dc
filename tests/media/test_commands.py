"""Pure tests of the argv builders, storyboard planning/VTT and the progress parser."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest

from vsrc.media.commands import (
    build_hls_command,
    build_poster_command,
    build_storyboard_command,
    input_url,
    poster_time,
)
from vsrc.media.ladder import DEFAULT_PROFILE, Profile, Rung, ladder_for
from vsrc.media.progress import ProgressParser, parse_out_time
from vsrc.media.storyboard import format_vtt_timestamp, plan_storyboard, storyboard_vtt

from .test_ladder import make_info


def opt(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_hls_command_with_audio(tmp_path: Path) -> None:
    info = make_info(1920, 1080, fps=29.97, frame_rate=Fraction(30000, 1001))
    rungs = ladder_for(info)
    argv = build_hls_command(
        ffmpeg="ffmpeg",
        source="/in/my video.mov",
        info=info,
        rungs=rungs,
        profile=DEFAULT_PROFILE,
        out_dir=tmp_path,
    )
    assert argv[0] == "ffmpeg"
    assert argv.count("-i") == 1 and opt(argv, "-i") == "file:/in/my video.mov"
    assert opt(argv, "-progress") == "pipe:1" and "-nostats" in argv and "-nostdin" in argv
    graph = opt(argv, "-filter_complex")
    assert graph.startswith("[0:0]fps=30000/1001,split=5[s0][s1][s2][s3][s4];")
    assert "[s0]scale=1920:1080,setsar=1,format=yuv420p[v0]" in graph
    assert "[s4]scale=426:240,setsar=1,format=yuv420p[v4]" in graph
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-map"] == [
        x for i in range(5) for x in (f"[v{i}]", "0:1")
    ]
    assert opt(argv, "-c:v") == "libx264" and opt(argv, "-preset") == "veryfast"
    # fast start: IDR at 0, 1, 5, 9, ... (a 1 s first segment, then the 4 s segment grid)
    assert opt(argv, "-g") == "120" and opt(argv, "-keyint_min") == "120"
    assert opt(argv, "-sc_threshold") == "0"
    assert opt(argv, "-force_key_frames") == "expr:gte(t,if(n_forced,1+(n_forced-1)*4,0))"
    assert opt(argv, "-b:v:0") == "5000000" and opt(argv, "-maxrate:v:0") == "5350000"
    assert opt(argv, "-bufsize:v:0") == "7500000" and opt(argv, "-level:v:0") == "4.0"
    assert opt(argv, "-b:v:4") == "400000"
    assert opt(argv, "-c:a") == "aac" and opt(argv, "-b:a") == "128000"
    assert opt(argv, "-ac") == "2" and opt(argv, "-ar") == "48000"
    assert opt(argv, "-f") == "hls" and opt(argv, "-hls_time") == "1"  # cuts at every keyframe
    assert opt(argv, "-hls_playlist_type") == "event"
    assert "independent_segments" in opt(argv, "-hls_flags").split("+")
    assert opt(argv, "-master_pl_name") == "master.m3u8"
    assert opt(argv, "-var_stream_map") == (
        "v:0,a:0,name:1080p v:1,a:1,name:720p v:2,a:2,name:480p v:3,a:3,name:360p v:4,a:4,name:240p"
    )
    assert opt(argv, "-hls_segment_filename") == str(tmp_path / "%v" / "seg_%05d.ts")
    assert argv[-1] == str(tmp_path / "%v" / "index.m3u8")


def test_hls_command_without_audio(tmp_path: Path) -> None:
    info = make_info(640, 360, has_audio=False)
    profile = Profile(rungs=(Rung("360p", 360, 400_000), Rung("240p", 240, 250_000)), segment_seconds=2)
    argv = build_hls_command(
        ffmpeg="ff",
        source="a.mp4",
        info=info,
        rungs=ladder_for(info, profile),
        profile=profile,
        out_dir=tmp_path,
    )
    assert "-c:a" not in argv and "-ac" not in argv
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-map"] == ["[v0]", "[v1]"]
    assert opt(argv, "-var_stream_map") == "v:0,name:360p v:1,name:240p"
    assert opt(argv, "-hls_time") == "1"  # a 1 s first segment, then 2 s ones
    assert opt(argv, "-i") == "file:" + str(Path("a.mp4").resolve())


@pytest.mark.parametrize(
    ("first", "segment", "keys", "gop", "hls_time"),
    [
        (0, 4, "expr:gte(t,n_forced*2)", "50", "4"),  # fast start off: the 2 s GOP grid
        (4, 4, "expr:gte(t,n_forced*2)", "50", "4"),  # first segment as long as the others: off
        (2, 6, "expr:gte(t,if(n_forced,2+(n_forced-1)*6,0))", "150", "2"),
        (1.5, 2, "expr:gte(t,if(n_forced,1.5+(n_forced-1)*2,0))", "50", "1.5"),
    ],
)
def test_hls_command_keyframe_grid(
    tmp_path: Path, first: float, segment: int, keys: str, gop: str, hls_time: str
) -> None:
    info = make_info(640, 360, fps=25, frame_rate=Fraction(25))
    profile = Profile(
        rungs=(Rung("360p", 360, 400_000),), segment_seconds=segment, first_segment_seconds=first
    )
    argv = build_hls_command(
        ffmpeg="ff",
        source="a.mp4",
        info=info,
        rungs=ladder_for(info, profile),
        profile=profile,
        out_dir=tmp_path,
    )
    assert opt(argv, "-force_key_frames") == keys
    assert opt(argv, "-g") == gop == opt(argv, "-keyint_min")
    assert opt(argv, "-hls_time") == hls_time


def test_hls_command_rejects_percent_in_out_dir(tmp_path: Path) -> None:
    info = make_info(640, 360)
    with pytest.raises(ValueError):
        build_hls_command(
            ffmpeg="ff",
            source="a.mp4",
            info=info,
            rungs=ladder_for(info),
            profile=DEFAULT_PROFILE,
            out_dir=tmp_path / "100%",
        )


def test_input_url() -> None:
    assert input_url("/x/-weird:name.mp4") == "file:/x/-weird:name.mp4"


def test_poster_command() -> None:
    argv = build_poster_command(
        ffmpeg="ff", source="/r/144p/index.m3u8", duration=60, out_path="/o/poster.jpg"
    )
    assert opt(argv, "-ss") == "6" and argv.index("-ss") < argv.index("-i")
    assert opt(argv, "-frames:v") == "1" and argv[-1] == "/o/poster.jpg"
    assert poster_time(1.0) == pytest.approx(0.1)
    assert poster_time(0.05) == 0.0
    assert poster_time(0) == 0.0
    argv = build_poster_command(ffmpeg="ff", source="s", duration=10, out_path="p.jpg", at=3.5, width=640)
    assert opt(argv, "-ss") == "3.5" and opt(argv, "-vf").startswith("scale=640:-2")


def test_storyboard_plan_and_command() -> None:
    plan = plan_storyboard(61, 1920, 1080, interval=5, tile_width=160, columns=10)
    assert (plan.count, plan.columns, plan.rows, plan.tile_width, plan.tile_height) == (13, 10, 2, 160, 90)
    assert (plan.sprite_width, plan.sprite_height) == (1600, 180)
    argv = build_storyboard_command(ffmpeg="ff", source="in.m3u8", plan=plan, out_path="/o/s.jpg")
    vf = opt(argv, "-vf")
    assert vf.startswith("fps=1/5:") and "scale=160:90" in vf and vf.endswith("tile=10x2")
    assert opt(argv, "-skip_frame") == "nokey" and opt(argv, "-frames:v") == "1"
    # long video: the interval widens to keep at most max_tiles thumbnails
    long_plan = plan_storyboard(7200, 1280, 720, interval=5, max_tiles=100)
    assert long_plan.interval == 72 and long_plan.count == 100
    # portrait and tiny sources
    assert plan_storyboard(10, 1080, 1920).tile_height == 284
    tiny = plan_storyboard(0.5, 100, 60, tile_width=160)
    assert (tiny.count, tiny.tile_width, tiny.tile_height) == (1, 100, 60)


_CUE_RE = re.compile(r"^(\d\d:\d\d:\d\d\.\d\d\d) --> (\d\d:\d\d:\d\d\.\d\d\d)$")
_REF_RE = re.compile(r"^storyboard\.jpg#xywh=(\d+),(\d+),(\d+),(\d+)$")


def parse_ts(value: str) -> float:
    h, m, s = value.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def check_vtt(
    text: str, duration: float, sprite: tuple[int, int]
) -> list[tuple[float, float, tuple[int, ...]]]:
    """Validate a WebVTT thumbnail track; returns its cues."""
    assert text.startswith("WEBVTT\n\n")
    blocks = [b for b in text.split("\n\n")[1:] if b.strip()]
    cues = []
    prev_end = 0.0
    for block in blocks:
        timing, ref = block.strip().split("\n")
        m = _CUE_RE.match(timing)
        r = _REF_RE.match(ref)
        assert m and r, block
        start, end = parse_ts(m.group(1)), parse_ts(m.group(2))
        assert start == pytest.approx(prev_end, abs=0.001) and end > start
        x, y, w, h = map(int, r.groups())
        assert x + w <= sprite[0] and y + h <= sprite[1]
        cues.append((start, end, (x, y, w, h)))
        prev_end = end
    assert cues and cues[-1][1] == pytest.approx(duration, abs=0.001)
    return cues


def test_storyboard_vtt() -> None:
    plan = plan_storyboard(12.5, 640, 360, interval=5, tile_width=160, columns=2)
    text = storyboard_vtt(plan, 12.5)
    cues = check_vtt(text, 12.5, (plan.sprite_width, plan.sprite_height))
    assert [c[2] for c in cues] == [(0, 0, 160, 90), (160, 0, 160, 90), (0, 90, 160, 90)]
    assert [(c[0], c[1]) for c in cues] == [(0, 5), (5, 10), (10, 12.5)]
    assert format_vtt_timestamp(3725.5) == "01:02:05.500"
    assert storyboard_vtt(plan, 12.5, sprite_url="/t/x.jpg").count("/t/x.jpg#xywh=") == 3


# -- progress parser ---------------------------------------------------------------------------

BLOCK = """frame={frame}
fps=30.00
bitrate=N/A
total_size=N/A
out_time_us={us}
out_time_ms={us}
out_time={ts}
dup_frames=0
drop_frames=0
speed=2.0x
progress={state}
"""


def block(seconds: float, state: str = "continue") -> str:
    us = int(seconds * 1_000_000)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return BLOCK.format(
        frame=int(seconds * 30), us=us, ts=f"{int(h):02d}:{int(m):02d}:{s:09.6f}", state=state
    )


def test_progress_parser_blocks() -> None:
    p = ProgressParser(10.0)
    seen = []
    for t in (0.0, 1.0, 2.55, 2.0, 5.0, 9.999, 10.4):
        if (pct := p.feed(block(t))) is not None:
            seen.append(pct)
    assert seen == [10, 25, 50, 99]
    assert p.percent == 99 and not p.done
    assert p.feed(block(10.0, "end")) == 100
    assert p.done and p.percent == 100
    assert p.last_block["progress"] == "end"


def test_progress_parser_variants() -> None:
    p = ProgressParser(100.0)
    assert p.feed_line("out_time_us=N/A") is None
    assert p.feed_line("out_time_us=-23000") is None
    assert p.feed_line("out_time=00:00:30.000000") == 30
    assert p.feed_line("progress=continue") is None
    assert p.feed_line("out_time_ms=45000000") == 45  # microseconds despite the name
    assert p.feed_line("garbage") is None
    assert p.feed_line("out_time=00:00:10.000000") is None  # never goes back
    assert p.percent == 45

    unknown = ProgressParser(0)
    assert unknown.feed(block(5)) is None and unknown.percent == 0
    assert unknown.feed(block(6, "end")) == 100

    assert parse_out_time("01:02:03.5") == pytest.approx(3723.5)
    assert parse_out_time("-00:00:00.023000") == pytest.approx(-0.023)
    assert parse_out_time("N/A") is None
