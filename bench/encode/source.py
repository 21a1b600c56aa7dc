"""The benchmark source: 1080p30 testsrc2 with temporal noise and a sine tone, cached by parameters."""

from __future__ import annotations

import subprocess
from pathlib import Path

from vsrc.media.commands import ffmpeg_exe


def make_source(cache: Path, *, seconds: int, crf: int, size: str = "1920x1080", rate: int = 30) -> Path:
    """An H.264 (x264 ultrafast, ``crf``) + AAC MP4 of ``seconds`` s; reused when already in ``cache``.

    The noise (``alls=20:allf=t+u``) changes every frame, so the ladder encode works as hard as on
    grainy footage. ``ultrafast`` keeps the source cheap to decode (no CABAC, no B-frames).
    """
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"encode_src_{size}_{rate}fps_{seconds}s_crf{crf}.mp4"
    if path.exists() and path.stat().st_size > 0:
        return path
    tmp = path.with_suffix(".tmp.mp4")
    subprocess.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={size}:rate={rate}:duration={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate=48000:duration={seconds}",
            "-vf",
            "noise=alls=20:allf=t+u",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            str(crf),
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-shortest",
            "-movflags",
            "+faststart",
            str(tmp),
        ],
        check=True,
        timeout=1800,
    )
    tmp.rename(path)
    return path
