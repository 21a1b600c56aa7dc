"""Small generated clips (session scoped) for the media tests. Everything is made with the real
ffmpeg from imageio-ffmpeg, ultrafast, 1-3 seconds, so the whole set takes ~2 s."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import build_once
from vsrc.media.commands import ffmpeg_exe


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    return ffmpeg_exe()


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {' '.join(argv)}\n{proc.stderr[-2000:]}")


def _make(
    ffmpeg: str,
    out: Path,
    *,
    size: str,
    rate: str,
    seconds: float,
    audio: bool = True,
    vf: str | None = None,
    extra: list[str] | None = None,
    pix_fmt: str = "yuv420p",
) -> None:
    argv = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y"]
    argv += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}"]
    if audio:
        argv += ["-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=44100"]
    argv += ["-t", str(seconds)]
    if vf:
        argv += ["-vf", vf]
    argv += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pix_fmt]
    if audio:
        argv += ["-c:a", "aac", "-b:a", "64k"]
    argv += extra or []
    argv.append(str(out))
    _run(argv)


class Clips:
    def __init__(self, root: Path, ffmpeg: str) -> None:
        self.root = root
        self.ffmpeg = ffmpeg
        f = ffmpeg
        self.landscape = root / "landscape.mp4"
        _make(f, self.landscape, size="640x360", rate="30", seconds=3)
        self.portrait = root / "portrait.mp4"
        _make(f, self.portrait, size="360x640", rate="30", seconds=2)
        self.odd = root / "odd.mp4"
        # Odd sizes need 4:4:4 in H.264 (x264 refuses odd 4:2:0); also exercises format=yuv420p.
        _make(
            f, self.odd, size="321x241", rate="25", seconds=2, pix_fmt="yuv444p", vf="scale=321:241,setsar=1"
        )
        self.no_audio = root / "no_audio.mp4"
        _make(f, self.no_audio, size="640x360", rate="30", seconds=2, audio=False)
        self.ntsc = root / "ntsc.mp4"
        _make(f, self.ntsc, size="426x240", rate="30000/1001", seconds=3)
        # VFR: 30 fps timestamps with a 0.4 s hole after frame 45 (as phones produce when the
        # camera stalls), written with -fps_mode vfr and a fine timebase.
        self.vfr = root / "vfr.mp4"
        _make(
            f,
            self.vfr,
            size="320x180",
            rate="30",
            seconds=3,
            vf="settb=1/90000,setpts='(N/30+0.4*gte(N\\,45))/TB'",
            extra=["-fps_mode", "vfr"],
        )
        self.one_second = root / "one_second.mp4"
        _make(f, self.one_second, size="320x180", rate="30", seconds=1)
        self.tiny = root / "tiny.mp4"
        _make(f, self.tiny, size="160x90", rate="15", seconds=1, audio=False)
        # Rotated: the landscape clip stream-copied with a 90 degree display matrix.
        self.rotated = root / "rotated.mp4"
        self._ff("-display_rotation", "90", "-i", self.landscape, "-c", "copy", self.rotated)
        # Other accepted containers (stream copies / cheap encodes of one small clip).
        self.small = root / "small.mp4"
        _make(f, self.small, size="320x180", rate="25", seconds=1)
        self.containers: dict[str, Path] = {}
        for ext in ("mov", "mkv", "m4v", "flv", "avi"):
            self.containers[ext] = root / f"small.{ext}"
            self._ff("-i", self.small, "-c", "copy", self.containers[ext])
        self.containers["webm"] = root / "small.webm"
        self._ff("-i", self.small, "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8",
                 "-b:v", "200k", "-c:a", "libopus", self.containers["webm"])  # fmt: skip
        self.containers["wmv"] = root / "small.wmv"
        self._ff("-i", self.small, "-c:v", "wmv2", "-c:a", "wmav2", self.containers["wmv"])
        # Inputs that must be rejected.
        self.text = root / "notes.mp4"
        self.text.write_text("this is not a video\n" * 50)
        self.truncated = root / "truncated.mp4"  # moov atom is at the end: cut off
        data = self.landscape.read_bytes()
        self.truncated.write_bytes(data[: len(data) // 3])
        self.empty = root / "empty.mp4"
        self.empty.write_bytes(b"")
        self.audio_only = root / "audio_only.m4a"
        self._ff("-f", "lavfi", "-i", "sine=frequency=440", "-t", "1", "-c:a", "aac", self.audio_only)
        self.ts = root / "small.ts"  # a valid video in a container that is not accepted
        self._ff("-i", self.small, "-c", "copy", self.ts)

    def _ff(self, *args: str | Path) -> None:
        _run([self.ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *map(str, args)])


@pytest.fixture(scope="session")
def media_clips(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str) -> Clips:
    return build_once(tmp_path_factory, "media-clips", lambda root: Clips(root, ffmpeg))
