"""HLS master playlist: checking ffmpeg's, and writing our own.

What ffmpeg writes natively (ffmpeg 9, the ``imageio-ffmpeg`` build, H.264 + AAC in MPEG-TS):
``master.m3u8`` with, per variant, ``BANDWIDTH`` and ``AVERAGE-BANDWIDTH`` (estimated from the
encoder's bit-rate/VBV settings), ``RESOLUTION`` and ``CODECS`` (read from the produced SPS, e.g.
``avc1.64001f,mp4a.40.2``). It writes the master once, when the first segments are out, so a
player can start while the encode runs. It does not write ``FRAME-RATE``, and it omits
``CODECS`` for VP9/AV1/Opus (DESIGN §8).

When :func:`rewrite_master` is called: by the encode job once, right after ffmpeg exited
successfully (and before the media is marked completed). It replaces the master atomically
(write + rename) with one carrying, per variant: ``BANDWIDTH`` = peak segment bit rate measured
from the written segments (falling back to maxrate + audio bit rate), ``AVERAGE-BANDWIDTH`` =
measured average (fallback: video bit rate + audio bit rate), ``RESOLUTION``, ``FRAME-RATE``
and ``CODECS`` (from the first segment's SPS; fallback computed from the x264 profile the
preset yields and the planned level, :func:`vsrc.media.h264.avc_codec_string`) plus
``mp4a.40.2`` when there is audio. It is also the fix when :func:`missing_master_attributes`
reports that ffmpeg's master lacks something. Nothing in this module runs ffmpeg.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import m3u8

from vsrc.media.commands import MASTER_PLAYLIST, SEGMENT_TEMPLATE, VARIANT_PLAYLIST
from vsrc.media.h264 import avc_codec_string, avc_codec_string_from_sps, x264_profile_for_preset
from vsrc.media.ladder import PlannedRung, Profile, output_frame_rate
from vsrc.media.probe import SourceInfo

__all__ = [
    "AAC_LC_CODEC",
    "REQUIRED_MASTER_ATTRIBUTES",
    "MasterVariant",
    "master_variants",
    "measure_playlist",
    "missing_master_attributes",
    "read_avc_codec",
    "render_master",
    "rewrite_master",
]

AAC_LC_CODEC = "mp4a.40.2"
REQUIRED_MASTER_ATTRIBUTES: tuple[str, ...] = ("BANDWIDTH", "AVERAGE-BANDWIDTH", "RESOLUTION", "CODECS")


@dataclass(frozen=True, slots=True)
class MasterVariant:
    uri: str
    bandwidth: int
    average_bandwidth: int
    width: int
    height: int
    codecs: str
    frame_rate: float | None = None


def render_master(variants: Sequence[MasterVariant]) -> str:
    """Text of a master playlist listing ``variants`` in order."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for v in variants:
        attrs = [
            f"BANDWIDTH={v.bandwidth}",
            f"AVERAGE-BANDWIDTH={v.average_bandwidth}",
            f"RESOLUTION={v.width}x{v.height}",
        ]
        if v.frame_rate:
            attrs.append(f"FRAME-RATE={v.frame_rate:.3f}")
        attrs.append(f'CODECS="{v.codecs}"')
        lines.append("#EXT-X-STREAM-INF:" + ",".join(attrs))
        lines.append(v.uri)
    return "\n".join(lines) + "\n"


def missing_master_attributes(text: str) -> set[str]:
    """Required attributes (:data:`REQUIRED_MASTER_ATTRIBUTES`) that some variant of the master
    playlist ``text`` lacks; ``{"EXT-X-STREAM-INF"}`` when it lists no variant."""
    variants = m3u8.loads(text).playlists
    if not variants:
        return {"EXT-X-STREAM-INF"}
    missing: set[str] = set()
    for variant in variants:
        info = variant.stream_info
        attrs = {
            "BANDWIDTH": info.bandwidth,
            "AVERAGE-BANDWIDTH": info.average_bandwidth,
            "RESOLUTION": info.resolution,
            "CODECS": info.codecs,
        }
        missing.update(a for a in REQUIRED_MASTER_ATTRIBUTES if not attrs.get(a))
    return missing


def read_avc_codec(segment: str | os.PathLike[str], max_packets: int = 50) -> str | None:
    """``avc1.PPCCLL`` of the H.264 stream in an MPEG-TS segment (from its first SPS), or None."""
    import av
    import av.error

    try:
        with av.open(os.fspath(segment)) as container:
            if not container.streams.video:
                return None
            for i, packet in enumerate(container.demux(container.streams.video[0])):
                if packet.size:
                    codec = avc_codec_string_from_sps(bytes(packet))
                    if codec:
                        return codec
                if i >= max_packets:
                    break
    except (av.error.FFmpegError, OSError):
        return None
    return None


def measure_playlist(playlist: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(peak, average) bit rate in bits/s of a media playlist, from its ``#EXTINF`` durations and
    the sizes of its segment files. Segments under 1 s (a short last one) are left out of the
    peak unless all are that short. None when nothing can be measured."""
    path = Path(playlist)
    try:
        parsed = m3u8.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    segments: list[tuple[float, int]] = []
    for segment in parsed.segments:
        if segment.duration is None or not segment.uri:
            continue
        try:
            size = (path.parent / segment.uri).stat().st_size
        except OSError:
            return None
        segments.append((float(segment.duration), size))
    total_time = sum(d for d, _ in segments)
    if not segments or total_time <= 0:
        return None
    average = sum(s for _, s in segments) * 8 / total_time
    long_enough = [(d, s) for d, s in segments if d >= 1.0] or [(d, s) for d, s in segments if d > 0]
    peak = max(s * 8 / d for d, s in long_enough)
    return math.ceil(max(peak, average)), math.ceil(average)


def master_variants(
    out_dir: str | os.PathLike[str] | None,
    *,
    rungs: Sequence[PlannedRung],
    profile: Profile,
    info: SourceInfo,
    measure: bool = True,
) -> list[MasterVariant]:
    """Master entries for ``rungs`` (see the module doc). With ``out_dir`` None or
    ``measure=False`` only planned values are used (pure)."""
    audio = profile.audio_bitrate if info.has_audio else 0
    frame_rate = float(output_frame_rate(info, profile.max_fps))
    fallback_profile = x264_profile_for_preset(profile.preset)
    variants: list[MasterVariant] = []
    for r in rungs:
        bandwidth, average = r.maxrate + audio, r.video_bitrate + audio
        video_codec = avc_codec_string(fallback_profile, r.level or 40)
        if out_dir is not None:
            rung_dir = Path(out_dir) / r.name
            first = rung_dir / (SEGMENT_TEMPLATE % 0)
            if first.exists():
                video_codec = read_avc_codec(first) or video_codec
            if measure:
                measured = measure_playlist(rung_dir / VARIANT_PLAYLIST)
                if measured is not None:
                    bandwidth, average = measured
        codecs = f"{video_codec},{AAC_LC_CODEC}" if info.has_audio else video_codec
        variants.append(
            MasterVariant(
                uri=f"{r.name}/{VARIANT_PLAYLIST}",
                bandwidth=bandwidth,
                average_bandwidth=average,
                width=r.width,
                height=r.height,
                codecs=codecs,
                frame_rate=frame_rate,
            )
        )
    return variants


def rewrite_master(
    out_dir: str | os.PathLike[str],
    *,
    rungs: Sequence[PlannedRung],
    profile: Profile,
    info: SourceInfo,
    measure: bool = True,
    master_name: str = MASTER_PLAYLIST,
) -> str:
    """Write ``out_dir/master_name`` atomically from :func:`master_variants`; returns the text."""
    text = render_master(master_variants(out_dir, rungs=rungs, profile=profile, info=info, measure=measure))
    target = Path(out_dir) / master_name
    fd, tmp = tempfile.mkstemp(prefix=".master-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return text


def every_rung_lists_a_segment(out_dir: Path, rung_names: Sequence[str]) -> bool:
    """Whether each rung's media playlist already lists a segment: the item is playable."""
    for name in rung_names:
        try:
            text = (out_dir / name / "index.m3u8").read_text(errors="replace")
        except FileNotFoundError:
            return False
        if "#EXTINF" not in text:
            return False
    return bool(rung_names)
