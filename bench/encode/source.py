"""The benchmark source: 1080p30 testsrc2 with temporal noise and a sine tone, cached by parameters."""

from __future__ import annotations

from pathlib import Path

from bench.common import cached_ffmpeg


def make_source(
    cache: Path, *, seconds: int, crf: int, size: str = "1920x1080", rate: int = 30, faststart: bool = True
) -> Path:
    """An H.264 (x264 ultrafast, ``crf``) + AAC MP4 of ``seconds`` s; reused when already in ``cache``.
    ``faststart=False``: the index (moov) stays at the end, as many cameras and editors write it.

    The noise (``alls=20:allf=t+u``) changes every frame, so the ladder encode works as hard as on
    grainy footage. ``ultrafast`` keeps the source cheap to decode (no CABAC, no B-frames).
    """
    return cached_ffmpeg(
        cache / f"encode_src_{size}_{rate}fps_{seconds}s_crf{crf}{'' if faststart else '_moovend'}.mp4",
        [
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
            *(["-movflags", "+faststart"] if faststart else []),
        ],
        timeout=1800,
    )


def has_segment(playlist: Path) -> bool:
    """The HLS playlist exists and lists a segment (its rung is playable)."""
    try:
        return "#EXTINF" in playlist.read_text()
    except OSError:
        return False
