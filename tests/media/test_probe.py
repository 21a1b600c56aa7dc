from __future__ import annotations

import struct
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import pytest

from vsrc.media import ACCEPTED_MIME_TYPES, ProbeError, probe
from vsrc.media.commands import ffmpeg_exe
from vsrc.media.errors import MediaError
from vsrc.media.probe import DEFAULT_MAX_SOURCE_PIXELS, MIN_SOURCE_SIDE, guess_mime_type

from .conftest import Clips


def test_landscape(media_clips: Clips) -> None:
    info = probe(media_clips.landscape)
    assert (info.width, info.height) == (640, 360)
    assert (info.display_width, info.display_height) == (640, 360)
    assert info.rotation == 0
    assert info.fps == pytest.approx(30.0)
    assert info.frame_rate == Fraction(30)
    assert not info.is_vfr
    assert info.duration == pytest.approx(3.0, abs=0.1)
    assert info.has_audio
    assert info.audio_codec == "aac"
    assert info.video_codec == "h264"
    assert info.mime_type == "video/mp4"
    assert info.format_name.startswith("mov,mp4")
    assert info.bit_rate is not None and info.bit_rate > 0
    assert not info.is_portrait
    assert (info.short_side, info.long_side) == (360, 640)


def test_portrait(media_clips: Clips) -> None:
    info = probe(media_clips.portrait)
    assert (info.display_width, info.display_height) == (360, 640)
    assert info.is_portrait


def test_rotated_uses_display_matrix(media_clips: Clips) -> None:
    info = probe(media_clips.rotated)
    assert (info.width, info.height) == (640, 360)  # as stored
    assert info.rotation in (90, 270)
    assert (info.display_width, info.display_height) == (360, 640)
    assert info.is_portrait


def test_odd_size(media_clips: Clips) -> None:
    info = probe(media_clips.odd)
    assert (info.width, info.height) == (321, 241)
    assert (info.display_width, info.display_height) == (321, 241)
    assert info.pix_fmt == "yuv444p"


def test_no_audio(media_clips: Clips) -> None:
    info = probe(media_clips.no_audio)
    assert not info.has_audio
    assert info.audio_codec is None and info.audio_stream_index is None


def test_ntsc_rate_is_exact(media_clips: Clips) -> None:
    info = probe(media_clips.ntsc)
    assert info.frame_rate == Fraction(30000, 1001)
    assert info.fps == pytest.approx(29.97, abs=0.01)


def test_vfr(media_clips: Clips) -> None:
    info = probe(media_clips.vfr)
    assert info.is_vfr
    assert info.frame_rate == Fraction(30)
    assert info.fps < 29
    assert info.duration == pytest.approx(3.0, abs=0.1)


def test_one_second(media_clips: Clips) -> None:
    info = probe(media_clips.one_second)
    assert info.duration == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize(
    ("ext", "mime"),
    [
        ("mov", "video/quicktime"),
        ("mkv", "video/x-matroska"),
        ("m4v", "video/x-m4v"),
        ("flv", "video/x-flv"),
        ("avi", "video/x-msvideo"),
        ("webm", "video/webm"),
        ("wmv", "video/x-ms-wmv"),
    ],
)
def test_accepted_containers(media_clips: Clips, ext: str, mime: str) -> None:
    info = probe(media_clips.containers[ext])
    assert info.mime_type == mime
    assert mime in ACCEPTED_MIME_TYPES
    assert (info.display_width, info.display_height) == (320, 180)
    assert info.fps == pytest.approx(25, abs=0.5)
    assert info.duration == pytest.approx(1.0, abs=0.15)


@pytest.mark.parametrize("name", ["text", "truncated", "empty", "audio_only", "ts"])
def test_rejected(media_clips: Clips, name: str) -> None:
    path: Path = getattr(media_clips, name)
    with pytest.raises(ProbeError) as exc_info:
        probe(path)
    assert isinstance(exc_info.value, MediaError)
    message = str(exc_info.value)
    assert message and str(path) not in message and path.name not in message


def test_audio_only_message(media_clips: Clips) -> None:
    with pytest.raises(ProbeError, match="no video stream"):
        probe(media_clips.audio_only)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        probe(tmp_path / "nope.mp4")


@pytest.mark.parametrize(
    ("fmt", "ext", "codec", "brand", "expected"),
    [
        ("mov,mp4,m4a,3gp,3g2,mj2", ".mp4", "h264", "isom", "video/mp4"),
        ("mov,mp4,m4a,3gp,3g2,mj2", ".MOV", "h264", None, "video/quicktime"),
        ("mov,mp4,m4a,3gp,3g2,mj2", "", "h264", "qt  ", "video/quicktime"),
        ("mov,mp4,m4a,3gp,3g2,mj2", "m4v", "h264", None, "video/x-m4v"),
        ("mov,mp4,m4a,3gp,3g2,mj2", ".bin", "h264", "M4V ", "video/x-m4v"),
        ("matroska,webm", ".webm", "vp9", None, "video/webm"),
        ("matroska,webm", ".mkv", "vp9", None, "video/x-matroska"),
        ("matroska,webm", "", "av1", None, "video/webm"),
        ("matroska,webm", "", "h264", None, "video/x-matroska"),
        ("avi", ".avi", "mpeg4", None, "video/x-msvideo"),
        ("flv", ".flv", "h264", None, "video/x-flv"),
        ("asf", ".wmv", "wmv2", None, "video/x-ms-wmv"),
        ("mpegts", ".ts", "h264", None, None),
        ("gif", ".gif", "gif", None, None),
        ("image2", ".jpg", "mjpeg", None, None),
    ],
)
def test_guess_mime_type(fmt: str, ext: str, codec: str, brand: str | None, expected: str | None) -> None:
    assert guess_mime_type(fmt, ext, video_codec=codec, major_brand=brand) == expected


def _ffmpeg(*args: str | Path) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *map(str, args)], check=True)


def test_one_pixel_avi_is_refused_with_the_minimum(tmp_path: Path) -> None:
    clip = tmp_path / "one.avi"
    _ffmpeg("-f", "lavfi", "-i", "color=c=red:size=1x1:rate=10:duration=1", "-c:v", "mpeg4", clip)
    with pytest.raises(ProbeError, match=f"1x1 pixels; at least {MIN_SOURCE_SIDE}x{MIN_SOURCE_SIDE}"):
        probe(clip)


def test_minimum_size_is_accepted(tmp_path: Path) -> None:
    side = MIN_SOURCE_SIDE
    clip = tmp_path / "min.mp4"
    _ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={side}x{side}:rate=10:duration=1", "-c:v", "libx264", clip)
    info = probe(clip)
    assert (info.width, info.height) == (side, side)
    narrow = tmp_path / "narrow.mp4"
    _ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=320x{side - 2}:rate=10:d=1", "-c:v", "libx264", narrow)
    with pytest.raises(ProbeError, match=f"320x{side - 2} pixels"):
        probe(narrow)


def test_pixel_limit_is_checked_before_decoding(tmp_path: Path) -> None:
    """8200x8200 (just over the default 8192x8192) is refused, and so is a clip over a lowered limit."""
    huge = tmp_path / "huge.mkv"
    _ffmpeg("-f", "lavfi", "-i", "color=size=8200x8200:rate=1:duration=1", "-c:v", "mjpeg", huge)
    with pytest.raises(ProbeError, match=f"8200x8200 pixels .*at most {DEFAULT_MAX_SOURCE_PIXELS} pixels"):
        probe(huge)
    assert DEFAULT_MAX_SOURCE_PIXELS == 8192 * 8192
    small = tmp_path / "small.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10:duration=1", "-c:v", "libx264", small)
    assert probe(small, max_pixels=320 * 240).width == 320
    with pytest.raises(ProbeError, match="at most 76799 pixels"):
        probe(small, max_pixels=320 * 240 - 1)


def test_no_decodable_frame(tmp_path: Path) -> None:
    """H.264 whose only keyframe was dropped: a video stream, packets, but nothing decodes."""
    clip = tmp_path / "nokey.mkv"
    _ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15:duration=2"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-g", "1000", "-bsf:v", "noise=drop=key", clip),
    )
    with pytest.raises(ProbeError, match="No video frame could be decoded"):
        probe(clip)


def test_frames_a_million_seconds_apart_are_refused(tmp_path: Path) -> None:
    """Two frames 10^6 s apart: the container declares ~10^6 s, which is not the video's duration."""
    clip = tmp_path / "gap.mkv"
    _ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=1:duration=2", "-vf", "setpts=N*1000000/TB"),
        *("-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "ultrafast", clip),
    )
    with av.open(str(clip)) as container:
        assert container.duration is not None and container.duration > 10**12  # as declared, in µs
    with pytest.raises(ProbeError, match="1000000 s apart"):
        probe(clip)


def test_a_header_duration_the_packets_contradict_is_not_the_duration(tmp_path: Path) -> None:
    """A 2 s Matroska whose Segment Duration was rewritten to 10^6 s: the packets' span is reported."""
    clip = tmp_path / "liar.mkv"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15:duration=2", "-c:v", "libx264", clip)
    data = clip.read_bytes()
    at = data.index(b"\x44\x89\x88") + 3  # EBML Duration, an 8-byte float in milliseconds
    clip.write_bytes(data[:at] + struct.pack(">d", 1e9) + data[at + 8 :])
    with av.open(str(clip)) as container:
        assert container.duration == 10**12  # the lie, in µs
    assert probe(clip).duration == pytest.approx(2.0, abs=0.1)
