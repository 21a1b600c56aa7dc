"""The publish source: 720p30 testsrc2 + noise, x264 3 Mb/s CBR-ish, 2 s GOP, AAC; an FLV, cached."""

from __future__ import annotations

from pathlib import Path

from bench.common import cached_ffmpeg


def make_publish_source(cache: Path, *, seconds: int = 20) -> Path:
    """Encoded once so that publishing is a cheap ``-re -stream_loop -1 -c copy``.

    No B-frames (``-bf 0``): decode order is presentation order, so a packet's FLV timestamp is
    its capture time, which the latency measurement relies on.
    """
    return cached_ffmpeg(
        cache / f"live_src_720p30_3M_{seconds}s.flv",
        [
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size=1280x720:rate=30:duration={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate=48000:duration={seconds}",
            "-vf",
            "noise=alls=20:allf=t+u",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-b:v",
            "3M",
            "-maxrate",
            "3M",
            "-bufsize",
            "6M",
            "-g",
            "60",
            "-keyint_min",
            "60",
            "-sc_threshold",
            "0",
            "-bf",
            "0",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-ar",
            "48000",
            "-shortest",
            "-f",
            "flv",
        ],
        timeout=900,
    )
