"""A real encode with a short first segment: the keyframe grid defines the segments, in every rung."""

from __future__ import annotations

from pathlib import Path

import av
import m3u8
import pytest

from vsrc.media.commands import build_hls_command
from vsrc.media.ladder import Profile, Rung, ladder_for, output_frame_rate
from vsrc.media.probe import probe
from vsrc.media.runner import run_encode

from .conftest import _make

pytestmark = pytest.mark.slow

FAST = Profile(
    rungs=(Rung("240p", 240, 250_000), Rung("144p", 144, 120_000)),
    preset="ultrafast",
    segment_seconds=4,
    first_segment_seconds=1,
)


def _keyframe_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        return [
            round(float(p.pts * stream.time_base), 3)
            for p in c.demux(stream)
            if p.is_keyframe and p.pts is not None
        ]


def test_short_first_segment_aligned_across_rungs(ffmpeg: str, tmp_path: Path) -> None:
    source = tmp_path / "ntsc.mp4"
    _make(ffmpeg, source, size="426x240", rate="30000/1001", seconds=7)
    info = probe(source)
    rungs = ladder_for(info, FAST)
    assert [r.name for r in rungs] == ["240p", "144p"]
    out = tmp_path / "hls"
    argv = build_hls_command(ffmpeg=ffmpeg, source=source, info=info, rungs=rungs, profile=FAST, out_dir=out)
    run_encode(argv, duration=info.duration, on_progress=None, timeout=120)

    frame = 1 / output_frame_rate(info, FAST.max_fps)
    durations_by_rung = []
    for rung in rungs:
        playlist = m3u8.load(str(out / rung.name / "index.m3u8"))
        durations = [round(s.duration, 3) for s in playlist.segments]
        durations_by_rung.append(durations)
        # 1 s, then 4 s segments on the 29.97 fps frame grid (30 and 120 frames), then the rest
        assert durations[:2] == [round(float(30 * frame), 3), round(float(120 * frame), 3)]
        assert sum(durations) == pytest.approx(info.duration, abs=0.1)
        assert playlist.target_duration == 4
        for seg in playlist.segments:
            # each segment holds exactly one IDR frame, its first frame: GOP = segment
            times = _keyframe_times(out / rung.name / seg.uri)
            assert len(times) == 1
            with av.open(str(out / rung.name / seg.uri)) as c:
                assert next(c.decode(video=0)).key_frame
        with av.open(str(out / rung.name / "index.m3u8")) as c:
            assert sum(1 for _ in c.decode(video=0)) == round(info.duration / float(frame))
    assert durations_by_rung[0] == durations_by_rung[1]
    assert len(durations_by_rung[0]) == 3


def test_fast_start_off_keeps_the_gop_grid(ffmpeg: str, tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    _make(ffmpeg, source, size="320x180", rate="25", seconds=5)
    info = probe(source)
    legacy = Profile(rungs=(Rung("144p", 144, 120_000),), preset="ultrafast", first_segment_seconds=0)
    rungs = ladder_for(info, legacy)
    out = tmp_path / "hls"
    argv = build_hls_command(
        ffmpeg=ffmpeg, source=source, info=info, rungs=rungs, profile=legacy, out_dir=out
    )
    run_encode(argv, duration=info.duration, on_progress=None, timeout=120)
    playlist = m3u8.load(str(out / rungs[0].name / "index.m3u8"))
    assert [round(s.duration, 3) for s in playlist.segments] == [4.0, 1.0]
    # IDR every 2 s inside the 4 s segment
    times = _keyframe_times(out / rungs[0].name / playlist.segments[0].uri)
    assert [round(t - times[0], 3) for t in times] == [0, 2.0]
