"""A real, ~1 GiB H.264 MP4 made in seconds: a short lossless noisy clip, stream-copied in a loop."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg

GIB = 1024**3


def ffmpeg() -> str:
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def seed_clip(path: Path, *, seconds: float = 2) -> Path:
    """~50 MB/s of lossless 720p30 (testsrc2 + temporal noise, x264 -qp 0): hard to compress, fast to make."""
    subprocess.run(
        [
            ffmpeg(),
            "-y",
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size=1280x720:rate=30:duration={seconds}",
            "-vf",
            "noise=alls=60:allf=t",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-qp",
            "0",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        check=True,
        timeout=300,
    )
    return path


def big_video(path: Path, seed: Path, *, size: int = GIB) -> Path:
    """Loop ``seed`` with stream copy until the MP4 reaches ``size`` bytes (ffmpeg -fs; a few KiB over)."""
    subprocess.run(
        [
            ffmpeg(),
            "-y",
            "-hide_banner",
            "-loglevel",
            "error",
            "-stream_loop",
            "-1",
            "-i",
            str(seed),
            "-c",
            "copy",
            "-fs",
            str(size),
            str(path),
        ],
        check=True,
        timeout=300,
    )
    return path
