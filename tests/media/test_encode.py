"""Real encodes of the generated clips with a small profile, checked end to end."""

from __future__ import annotations

import math
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import m3u8
import pytest

from tests.helpers import eventually
from vsrc.media.commands import build_hls_command, build_poster_command, build_storyboard_command, ffmpeg_exe
from vsrc.media.h264 import avc_codec_string, x264_profile_for_preset
from vsrc.media.ladder import PlannedRung, Profile, Rung, ladder_for, output_frame_rate
from vsrc.media.playlists import (
    master_variants,
    measure_playlist,
    missing_master_attributes,
    read_avc_codec,
    render_master,
    rewrite_master,
)
from vsrc.media.probe import SourceInfo, probe
from vsrc.media.runner import run_encode
from vsrc.media.storyboard import plan_storyboard, storyboard_vtt

from .conftest import Clips
from .test_commands import check_vtt

pytestmark = pytest.mark.slow

SMALL = Profile(
    rungs=(Rung("360p", 360, 400_000), Rung("240p", 240, 250_000), Rung("144p", 144, 120_000)),
    preset="ultrafast",
    segment_seconds=2,
    gop_seconds=2,
)

NAMES = ["landscape", "portrait", "no_audio", "rotated", "ntsc", "vfr", "odd", "one_second"]


@dataclass
class Encoded:
    name: str
    source: Path
    info: SourceInfo
    rungs: list[PlannedRung]
    out: Path
    progress: list[int]
    ffmpeg_master: str


def count_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


@pytest.fixture(scope="module")
def encoded(media_clips: Clips, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Encoded]:
    root = tmp_path_factory.mktemp("hls")
    results: dict[str, Encoded] = {}
    for name in NAMES:
        source: Path = getattr(media_clips, name)
        info = probe(source)
        rungs = ladder_for(info, SMALL)
        out = root / name
        argv = build_hls_command(
            ffmpeg=media_clips.ffmpeg, source=source, info=info, rungs=rungs, profile=SMALL, out_dir=out
        )
        argv[1:1] = ["-stats_period", "0.05"]  # more progress points on these tiny clips
        progress: list[int] = []
        run_encode(argv, duration=info.duration, on_progress=progress.append, timeout=120)
        results[name] = Encoded(
            name, source, info, rungs, out, progress, (out / "master.m3u8").read_text(encoding="utf-8")
        )
    return results


def test_ladders_planned(encoded: dict[str, Encoded]) -> None:
    sizes = {n: [(r.name, r.width, r.height) for r in e.rungs] for n, e in encoded.items()}
    assert sizes["landscape"] == [("360p", 640, 360), ("240p", 426, 240), ("144p", 256, 144)]
    assert sizes["portrait"] == [("360p", 360, 640), ("240p", 240, 426), ("144p", 144, 256)]
    assert sizes["rotated"] == sizes["portrait"]
    assert sizes["odd"] == [("240p", 320, 240), ("144p", 192, 144)]
    assert sizes["vfr"] == [("144p", 256, 144)]  # 320x180: below the 240p box
    assert sizes["ntsc"] == [("240p", 426, 240), ("144p", 256, 144)]


@pytest.mark.parametrize("name", NAMES)
def test_ffmpeg_master_has_required_attributes(encoded: dict[str, Encoded], name: str) -> None:
    e = encoded[name]
    assert missing_master_attributes(e.ffmpeg_master) == set()
    master = m3u8.loads(e.ffmpeg_master)
    assert master.is_variant
    assert [p.uri for p in master.playlists] == [f"{r.name}/index.m3u8" for r in e.rungs]
    for playlist, rung in zip(master.playlists, e.rungs, strict=True):
        si = playlist.stream_info
        assert si.resolution == (rung.width, rung.height)
        assert si.bandwidth > 0 and si.average_bandwidth > 0
        codecs = si.codecs.split(",")
        assert codecs[0].startswith("avc1.")
        assert (codecs[1:] == ["mp4a.40.2"]) == e.info.has_audio
        assert len(codecs) == (2 if e.info.has_audio else 1)
        # our predicted codec string (profile from preset + pinned level) matches ffmpeg's
        assert codecs[0] == avc_codec_string(x264_profile_for_preset(SMALL.preset), rung.level)


@pytest.mark.parametrize("name", NAMES)
def test_variants_decode_and_align(encoded: dict[str, Encoded], name: str) -> None:
    e = encoded[name]
    rate = output_frame_rate(e.info, SMALL.max_fps)
    if e.info.is_vfr:
        expected_frames = round(e.info.duration * rate)  # converted to constant frame rate
    else:
        expected_frames = count_frames(e.source)
    durations_by_rung = []
    for rung in e.rungs:
        playlist_path = e.out / rung.name / "index.m3u8"
        text = playlist_path.read_text(encoding="utf-8")
        media = m3u8.loads(text)
        assert media.playlist_type == "event"
        assert media.is_endlist
        assert text.rstrip().splitlines()[-1] == "#EXT-X-ENDLIST"
        assert media.target_duration <= math.ceil(SMALL.segment_seconds * 1.5)
        durations = [round(s.duration, 3) for s in media.segments]
        durations_by_rung.append(durations)
        assert sum(durations) == pytest.approx(e.info.duration, abs=0.1)
        assert list((e.out / rung.name).glob("*.tmp")) == []
        # every segment starts with a keyframe (independent segments) of the planned size
        for seg in media.segments:
            with av.open(str(e.out / rung.name / seg.uri)) as c:
                first = next(c.decode(video=0))
                assert first.key_frame
                assert (first.width, first.height) == (rung.width, rung.height)
                assert c.streams.video[0].sample_aspect_ratio in (None, Fraction(1, 1))
                assert (len(c.streams.audio) == 1) == e.info.has_audio
                if e.info.has_audio:
                    a = c.streams.audio[0].codec_context
                    assert (a.name, a.sample_rate, a.channels) == ("aac", 48000, 2)
        # the whole variant decodes with the expected frame count
        with av.open(str(playlist_path)) as c:
            n_frames = sum(1 for _ in c.decode(video=0))
        assert abs(n_frames - expected_frames) <= (1 if e.info.is_vfr else 0)
        assert rung.width <= e.info.display_width and rung.height <= e.info.display_height
    assert all(d == durations_by_rung[0] for d in durations_by_rung), durations_by_rung


def test_ntsc_segments_follow_the_fast_start_grid(encoded: dict[str, Encoded]) -> None:
    """A 1 s first segment (the profile's default fast start), then the 2 s grid, in frames."""
    e = encoded["ntsc"]
    for rung in e.rungs:
        media = m3u8.load(str(e.out / rung.name / "index.m3u8"))
        assert [round(s.duration, 3) for s in media.segments] == [1.001, 2.002]


def test_progress_monotonic_to_100(encoded: dict[str, Encoded]) -> None:
    for e in encoded.values():
        assert e.progress, e.name
        assert e.progress == sorted(set(e.progress)), e.progress
        assert e.progress[-1] == 100
        assert all(0 < p <= 100 for p in e.progress)
    assert len(encoded["landscape"].progress) >= 3


def test_rewrite_master(encoded: dict[str, Encoded]) -> None:
    for e in encoded.values():
        text = rewrite_master(e.out, rungs=e.rungs, profile=SMALL, info=e.info)
        assert (e.out / "master.m3u8").read_text(encoding="utf-8") == text
        assert missing_master_attributes(text) == set()
        master = m3u8.loads(text)
        native = m3u8.loads(e.ffmpeg_master)
        rate = float(output_frame_rate(e.info, SMALL.max_fps))
        for ours, theirs, rung in zip(master.playlists, native.playlists, e.rungs, strict=True):
            si = ours.stream_info
            assert ours.uri == theirs.uri
            assert si.codecs == theirs.stream_info.codecs
            assert si.resolution == (rung.width, rung.height)
            assert si.frame_rate == pytest.approx(rate, abs=0.001)
            peak, average = measure_playlist(e.out / rung.name / "index.m3u8") or (0, 0)
            assert (si.bandwidth, si.average_bandwidth) == (peak, average)
            assert si.bandwidth >= si.average_bandwidth > 0
        assert list(e.out.glob(".master-*")) == [] and list(e.out.glob("*.tmp")) == []


def test_planned_master_without_measurement(encoded: dict[str, Encoded]) -> None:
    e = encoded["landscape"]
    variants = master_variants(None, rungs=e.rungs, profile=SMALL, info=e.info)
    text = render_master(variants)
    master = m3u8.loads(text)
    top = master.playlists[0].stream_info
    assert top.bandwidth == 428_000 + 128_000 and top.average_bandwidth == 400_000 + 128_000
    assert top.codecs == "avc1.42c01e,mp4a.40.2"
    no_audio = encoded["no_audio"]
    text = render_master(master_variants(None, rungs=no_audio.rungs, profile=SMALL, info=no_audio.info))
    assert "mp4a" not in text and missing_master_attributes(text) == set()
    assert read_avc_codec(e.out / "360p" / "seg_00000.ts") == "avc1.42c01e"


@pytest.mark.parametrize("name", ["landscape", "portrait", "one_second"])
def test_poster_and_storyboard_from_smallest_rendition(encoded: dict[str, Encoded], name: str) -> None:
    e = encoded[name]
    smallest = e.rungs[-1]
    playlist = e.out / smallest.name / "index.m3u8"
    ff = ffmpeg_exe()
    poster = e.out / "poster.jpg"
    run_encode(
        build_poster_command(ffmpeg=ff, source=playlist, duration=e.info.duration, out_path=poster),
        duration=0,
        on_progress=None,
        timeout=60,
    )
    with av.open(str(poster)) as c:
        frame = next(c.decode(video=0))
        assert (frame.width, frame.height) == (smallest.width, smallest.height)

    plan = plan_storyboard(
        e.info.duration, smallest.width, smallest.height, interval=1.0, tile_width=80, columns=2
    )
    sprite = e.out / "storyboard.jpg"
    run_encode(
        build_storyboard_command(
            ffmpeg=ff, source=playlist, plan=plan, out_path=sprite, keyframes_only=False
        ),
        duration=0,
        on_progress=None,
        timeout=60,
    )
    with av.open(str(sprite)) as c:
        frame = next(c.decode(video=0))
        assert (frame.width, frame.height) == (plan.sprite_width, plan.sprite_height)
    vtt = storyboard_vtt(plan, e.info.duration)
    cues = check_vtt(vtt, e.info.duration, (plan.sprite_width, plan.sprite_height))
    assert len(cues) == plan.count == math.ceil(e.info.duration - 1e-6)


def test_veryfast_produces_high_profile_as_predicted(media_clips: Clips, tmp_path: Path) -> None:
    profile = Profile(
        rungs=(Rung("144p", 144, 150_000),), preset="veryfast", segment_seconds=4, gop_seconds=2
    )
    info = probe(media_clips.one_second)
    rungs = ladder_for(info, profile)
    argv = build_hls_command(
        ffmpeg=media_clips.ffmpeg,
        source=media_clips.one_second,
        info=info,
        rungs=rungs,
        profile=profile,
        out_dir=tmp_path,
    )
    run_encode(argv, duration=info.duration, on_progress=None, timeout=60)
    native = m3u8.load(str(tmp_path / "master.m3u8")).playlists[0].stream_info.codecs
    assert native == f"{avc_codec_string('high', rungs[0].level)},mp4a.40.2" == "avc1.64000c,mp4a.40.2"
    planned = render_master(master_variants(None, rungs=rungs, profile=profile, info=info))
    assert m3u8.loads(planned).playlists[0].stream_info.codecs == native


def test_playable_while_encoding(media_clips: Clips, tmp_path: Path) -> None:
    """At real-time speed the master and an EVENT playlist without ENDLIST exist before ffmpeg ends."""
    info = probe(media_clips.landscape)
    rungs = ladder_for(info, SMALL)
    argv = build_hls_command(
        ffmpeg=media_clips.ffmpeg,
        source=media_clips.landscape,
        info=info,
        rungs=rungs,
        profile=SMALL,
        out_dir=tmp_path,
    )
    argv[argv.index("-i") : argv.index("-i")] = ["-re"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        playlist = tmp_path / rungs[0].name / "index.m3u8"
        eventually(
            lambda: (tmp_path / "master.m3u8").exists() and playlist.exists(),
            timeout=60,
            what="the early master and rung playlists",
        )
        assert proc.poll() is None, "ffmpeg finished before the first playlist appeared"
        early_master = m3u8.loads((tmp_path / "master.m3u8").read_text(encoding="utf-8"))
        early = m3u8.loads(playlist.read_text(encoding="utf-8"))
        assert early.playlist_type == "event" and not early.is_endlist and early.segments
        # ffmpeg's early master: BANDWIDTH, RESOLUTION, CODECS (AVERAGE-BANDWIDTH only at the end)
        si = early_master.playlists[0].stream_info
        assert si.bandwidth > 0 and si.resolution == (640, 360) and si.codecs.startswith("avc1.")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert m3u8.load(str(playlist)).is_endlist


def _stripe_transitions(path: Path) -> tuple[int, int]:
    """Luma transitions along a row and along a column of the first frame (testsrc2 has
    vertical colour bars, so an upright landscape frame changes along rows, not columns)."""
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
    plane = frame.planes[0]
    data, stride = bytes(plane), plane.line_size
    w, h = frame.width, frame.height
    row = [data[int(h * 0.45) * stride + x] for x in range(w)]
    col = [data[y * stride + int(w * 0.9)] for y in range(h)]

    def count(values: list[int]) -> int:
        return sum(1 for a, b in pairwise(values) if abs(a - b) > 25)

    return count(row), count(col)


def test_rotated_picture_is_turned_not_squeezed(encoded: dict[str, Encoded]) -> None:
    upright_row, upright_col = _stripe_transitions(encoded["landscape"].out / "360p" / "index.m3u8")
    assert upright_row > upright_col
    rotated_row, rotated_col = _stripe_transitions(encoded["rotated"].out / "360p" / "index.m3u8")
    assert rotated_col > rotated_row  # the bars are horizontal now
