"""ffmpeg argv builders (pure: nothing is run here; see :mod:`vsrc.media.runner`).

HLS encode (:func:`build_hls_command`)
--------------------------------------
One ffmpeg process decodes the source once; ``-filter_complex`` converts it to the constant
output frame rate (``fps``), ``split``s it and scales each branch with ``scale=W:H,setsar=1,
format=yuv420p`` (square pixels, 8-bit 4:2:0 so browsers can play 10-bit/4:2:2 sources).
Each rung is libx264 ``-profile:v high`` (a cap: ``ultrafast`` yields Constrained Baseline),
``-level:v`` from the plan, ``-b:v/-maxrate/-bufsize``, ``-g = -keyint_min =`` GOP frames,
``-sc_threshold 0`` and time-based ``-force_key_frames`` (:func:`vsrc.media.ladder.keyframe_plan`:
a 1 s first segment, then IDR frames on the segment grid; or every ``gop_seconds`` without fast
start), so IDR frames fall on the same time grid in every rung (also for 29.97 fps and VFR sources)
and segment boundaries are identical across renditions. When the source has audio every variant carries
its own AAC-LC stereo 48 kHz copy (muxed, ``mp4a.40.2``); without audio there are no audio
streams at all.

Output layout under ``out_dir``::

    master.m3u8               written by ffmpeg when the first segments are out
    <rung>/index.m3u8         EVENT playlist, #EXT-X-ENDLIST appended when ffmpeg finishes
    <rung>/seg_00000.ts ...   MPEG-TS segments of ``profile.segment_seconds`` (the first one
                              ``profile.first_segment_seconds``)

Playlists are written with ``hls_flags temp_file`` (write + rename), so a player or the API
reading them while encoding never sees a half-written playlist or segment.
ffmpeg's master already carries BANDWIDTH, AVERAGE-BANDWIDTH, RESOLUTION and CODECS (read from
the produced SPS); :func:`vsrc.media.playlists.rewrite_master` replaces it after a successful
encode with measured bandwidths and FRAME-RATE.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

from vsrc.media.h264 import level_name
from vsrc.media.ladder import PlannedRung, Profile, keyframe_plan, output_frame_rate
from vsrc.media.probe import HTTP_OPTIONS, URL_TIMEOUT, SourceInfo, is_url
from vsrc.media.storyboard import StoryboardPlan

__all__ = [
    "MASTER_PLAYLIST",
    "VARIANT_PLAYLIST",
    "build_hls_command",
    "build_poster_command",
    "build_storyboard_command",
    "ffmpeg_exe",
    "input_args",
    "input_url",
    "poster_time",
    "segment_pattern",
]

MASTER_PLAYLIST = "master.m3u8"
VARIANT_PLAYLIST = "index.m3u8"
SEGMENT_TEMPLATE = "seg_%05d.ts"


def ffmpeg_exe(override: str | None = None) -> str:
    """``override`` when given (e.g. the ``VSRC_FFMPEG`` setting), else the ffmpeg binary of the
    ``imageio-ffmpeg`` wheel."""
    if override:
        return override
    import imageio_ffmpeg

    exe: str = imageio_ffmpeg.get_ffmpeg_exe()
    return exe


def input_url(path: str | os.PathLike[str]) -> str:
    """An ffmpeg input URL for a local path: absolute, with the ``file:`` protocol so names that
    start with ``-`` or contain ``:`` are not taken for options or protocols. An http(s) URL (a
    source read from S3 through ``Storage.readable``) is kept as is."""
    where = os.fspath(path)
    if is_url(where):
        return where
    return "file:" + os.path.abspath(where)


def input_args(path: str | os.PathLike[str]) -> list[str]:
    """``-i`` and its input options: for a URL, the http options of :data:`HTTP_OPTIONS` (range
    requests, reconnect where a dropped connection stopped) and a read timeout."""
    url = input_url(path)
    options: list[str] = []
    if is_url(url):
        for name, value in HTTP_OPTIONS:
            options += [f"-{name}", value]
        options += ["-rw_timeout", str(int(URL_TIMEOUT * 1_000_000))]
    return [*options, "-i", url]


def _fraction(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def _seconds(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def segment_pattern(out_dir: str | os.PathLike[str], rung_name: str) -> Path:
    """Where the segments of ``rung_name`` go (printf pattern)."""
    return Path(out_dir) / rung_name / SEGMENT_TEMPLATE


def build_hls_command(
    *,
    ffmpeg: str,
    source: str | os.PathLike[str],
    info: SourceInfo,
    rungs: list[PlannedRung],
    profile: Profile,
    out_dir: str | os.PathLike[str],
) -> list[str]:
    """argv of the single ffmpeg process that encodes ``source`` to an HLS ladder in ``out_dir``
    (see the module doc). Progress goes to stdout (``-progress pipe:1``), diagnostics to stderr.
    ``out_dir`` must not contain ``%`` (ffmpeg expands it in output names)."""
    if not rungs:
        raise ValueError("no rungs to encode")
    out = os.path.abspath(os.fspath(out_dir))
    if "%" in out:
        raise ValueError("out_dir must not contain '%'")
    names = [r.name for r in rungs]
    if len(set(names)) != len(names):
        raise ValueError("rung names must be unique")

    rate = output_frame_rate(info, profile.max_fps)
    keys = keyframe_plan(rate, profile)
    n = len(rungs)

    split_labels = "".join(f"[s{i}]" for i in range(n))
    graph = [f"[0:{info.video_stream_index}]fps={_fraction(rate)},split={n}{split_labels}"]
    for i, r in enumerate(rungs):
        graph.append(f"[s{i}]scale={r.width}:{r.height},setsar=1,format=yuv420p[v{i}]")

    argv: list[str] = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-y",
        "-loglevel",
        "warning",
        "-progress",
        "pipe:1",
        "-nostats",
        *input_args(source),
        "-filter_complex",
        ";".join(graph),
    ]
    for i in range(n):
        argv += ["-map", f"[v{i}]"]
        if info.has_audio:
            argv += ["-map", f"0:{info.audio_stream_index if info.audio_stream_index is not None else 'a:0'}"]

    argv += [
        "-map_metadata",
        "-1",
        "-map_chapters",
        "-1",
        "-fps_mode",
        "passthrough",
        "-c:v",
        "libx264",
        "-preset",
        profile.preset,
        "-profile:v",
        "high",
        "-g",
        str(keys.gop),
        "-keyint_min",
        str(keys.gop),
        "-sc_threshold",
        "0",
        "-force_key_frames",
        f"expr:{keys.times_expr}",
    ]
    for i, r in enumerate(rungs):
        argv += [
            f"-b:v:{i}",
            str(r.video_bitrate),
            f"-maxrate:v:{i}",
            str(r.maxrate),
            f"-bufsize:v:{i}",
            str(r.bufsize),
        ]
        if r.level:
            argv += [f"-level:v:{i}", level_name(r.level)]
    if info.has_audio:
        argv += [
            "-c:a",
            "aac",
            "-b:a",
            str(profile.audio_bitrate),
            "-ac",
            str(profile.audio_channels),
            "-ar",
            str(profile.audio_sample_rate),
        ]
        var_map = " ".join(f"v:{i},a:{i},name:{r.name}" for i, r in enumerate(rungs))
    else:
        var_map = " ".join(f"v:{i},name:{r.name}" for i, r in enumerate(rungs))

    argv += [
        "-max_muxing_queue_size",
        "4096",
        "-f",
        "hls",
        "-hls_time",
        _seconds(keys.hls_time),
        "-hls_playlist_type",
        "event",
        "-hls_flags",
        "independent_segments+temp_file",
        "-hls_segment_type",
        "mpegts",
        "-var_stream_map",
        var_map,
        "-master_pl_name",
        MASTER_PLAYLIST,
        "-hls_segment_filename",
        os.path.join(out, "%v", SEGMENT_TEMPLATE),
        os.path.join(out, "%v", VARIANT_PLAYLIST),
    ]
    return argv


def poster_time(duration: float, fraction: float = 0.1) -> float:
    """Where the poster is taken: ``fraction`` of the duration, kept inside the video."""
    if duration <= 0:
        return 0.0
    return max(0.0, min(duration * fraction, duration - 0.1))


def _jpeg_output(quality: int, out_path: str | os.PathLike[str]) -> list[str]:
    """Output options writing exactly one JPEG (``quality``: mjpeg ``-q:v``, 2 best .. 31 worst)."""
    return [
        "-an",
        "-sn",
        "-c:v",
        "mjpeg",
        "-q:v",
        str(quality),
        "-f",
        "image2",
        "-update",
        "1",
        os.path.abspath(os.fspath(out_path)),
    ]


def build_poster_command(
    *,
    ffmpeg: str,
    source: str | os.PathLike[str],
    duration: float,
    out_path: str | os.PathLike[str],
    at: float | None = None,
    width: int | None = None,
    quality: int = 3,
) -> list[str]:
    """argv writing one JPEG of ``source`` (a file or a rendition's ``index.m3u8``) taken at
    ``at`` seconds (default :func:`poster_time`, ~10 % into the video). ``width`` scales it
    (height keeps the aspect ratio); ``quality`` is the mjpeg ``-q:v`` (2 best .. 31 worst)."""
    t = poster_time(duration) if at is None else max(0.0, at)
    argv = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-y",
        "-loglevel",
        "error",
        "-ss",
        _seconds(t),
        "-i",
        input_url(source),
        "-map",
        "0:v:0",
        "-frames:v",
        "1",
    ]
    filters = []
    if width:
        filters.append(f"scale={width}:-2")
    filters.append("setsar=1")
    argv += [
        "-vf",
        ",".join(filters),
        *_jpeg_output(quality, out_path),
    ]
    return argv


def build_storyboard_command(
    *,
    ffmpeg: str,
    source: str | os.PathLike[str],
    plan: StoryboardPlan,
    out_path: str | os.PathLike[str],
    keyframes_only: bool = True,
    quality: int = 5,
) -> list[str]:
    """argv writing the storyboard sprite JPEG described by ``plan`` (see
    :func:`vsrc.media.storyboard.plan_storyboard`) from ``source``.

    ``keyframes_only`` decodes only keyframes (``-skip_frame nokey``): several times faster, and
    exact enough on our renditions, which have an IDR frame at every segment start (a thumbnail may then
    show the picture up to one GOP away from its cue time)."""
    rate = 1 / Fraction(plan.interval).limit_denominator(1000)
    vf = (
        f"fps={_fraction(rate)}:round=near:eof_action=pass,"
        f"scale={plan.tile_width}:{plan.tile_height},setsar=1,"
        f"tile={plan.columns}x{plan.rows}"
    )
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    if keyframes_only:
        argv += ["-skip_frame", "nokey"]
    argv += [
        "-i",
        input_url(source),
        "-map",
        "0:v:0",
        "-vf",
        vf,
        "-frames:v",
        "1",
        *_jpeg_output(quality, out_path),
    ]
    return argv
