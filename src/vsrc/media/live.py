"""ffmpeg argv for live packaging (pure): FLV on stdin → live HLS master + rungs.

The source rendition is copied (no re-encode, so CPU stays low and quality is the publisher's);
lower rungs are encoded with x264 ``veryfast``/``zerolatency`` and take their keyframes where the
source has them (``-force_key_frames source``), so every rung cuts segments at the same instants.
Playlists slide (``hls_list_size`` segments, old ones deleted); ffmpeg appends ``#EXT-X-ENDLIST``
when stdin ends.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

SOURCE_RUNG = "source"


@dataclass(frozen=True)
class LiveRung:
    """A transcoded live rung: ``height`` lines (width follows the aspect), bit rates in bits/s."""

    name: str
    height: int
    video_bitrate: int


@dataclass(frozen=True)
class LiveProfile:
    rungs: tuple[LiveRung, ...] = (LiveRung("360p", 360, 800_000),)
    segment_seconds: int = 2
    list_size: int = 6
    preset: str = "veryfast"
    audio_bitrate: int = 128_000


DEFAULT_LIVE_PROFILE = LiveProfile()


def build_live_hls_command(
    *,
    ffmpeg: str,
    out_dir: str | os.PathLike[str],
    has_audio: bool,
    has_video: bool = True,
    profile: LiveProfile = DEFAULT_LIVE_PROFILE,
    source_bitrate: int = 3_000_000,
) -> list[str]:
    """argv reading FLV from stdin and writing ``out_dir/master.m3u8`` + ``out_dir/<rung>/index.m3u8``.

    ``source_bitrate`` (bits/s, from the publisher's metadata when known) is only advertised in
    the master's BANDWIDTH for the copied rendition.
    """
    out = os.path.abspath(os.fspath(out_dir))
    if "%" in out:
        raise ValueError("out_dir must not contain '%'")
    if not has_video:
        raise ValueError("a live stream needs video")
    rungs = profile.rungs
    argv = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "warning",
        "-fflags",
        "+genpts",
        "-f",
        "flv",
        "-i",
        "pipe:0",
    ]
    if rungs:
        chains = ";".join(
            f"[s{i}]scale=-2:{r.height},setsar=1,format=yuv420p[v{i}]" for i, r in enumerate(rungs)
        )
        splits = "".join(f"[s{i}]" for i in range(len(rungs)))
        argv += ["-filter_complex", f"[0:v:0]split={len(rungs)}{splits};{chains}"]
    # Variant 0: the source, copied.
    argv += ["-map", "0:v:0", "-c:v:0", "copy", "-b:v:0", str(source_bitrate)]
    for i, rung in enumerate(rungs, start=1):
        argv += [
            "-map",
            f"[v{i - 1}]",
            f"-c:v:{i}",
            "libx264",
            f"-preset:v:{i}",
            profile.preset,
            f"-tune:v:{i}",
            "zerolatency",
            f"-b:v:{i}",
            str(rung.video_bitrate),
            f"-maxrate:v:{i}",
            str(round(rung.video_bitrate * 1.07)),
            f"-bufsize:v:{i}",
            str(round(rung.video_bitrate * 1.5)),
            f"-profile:v:{i}",
            "main",
        ]
    if rungs:
        argv += ["-force_key_frames", "source"]
    names = [SOURCE_RUNG, *(r.name for r in rungs)]
    if has_audio:
        argv += ["-map", "0:a:0"] * (len(rungs) + 1)
        argv += ["-c:a", "copy"]
        streams = [f"v:{i},a:{i},name:{name}" for i, name in enumerate(names)]
    else:
        streams = [f"v:{i},name:{name}" for i, name in enumerate(names)]
    argv += [
        "-f",
        "hls",
        "-hls_time",
        str(profile.segment_seconds),
        "-hls_list_size",
        str(profile.list_size),
        "-hls_flags",
        "delete_segments+independent_segments+temp_file+program_date_time",
        "-hls_segment_filename",
        os.path.join(out, "%v", "seg_%05d.ts"),
        "-master_pl_name",
        "master.m3u8",
        "-var_stream_map",
        " ".join(streams),
        os.path.join(out, "%v", "index.m3u8"),
    ]
    return argv
