"""Pure media helpers: probing, ladder planning, ffmpeg command building, progress parsing,
running ffmpeg, HLS playlists and storyboards. Paths and options in, data or argv lists out;
nothing here touches the database, the API or storage backends."""

from vsrc.media.commands import (
    MASTER_PLAYLIST,
    VARIANT_PLAYLIST,
    build_hls_command,
    build_poster_command,
    build_storyboard_command,
    ffmpeg_exe,
    poster_time,
)
from vsrc.media.errors import EncodeError, MediaError, ProbeError
from vsrc.media.ladder import (
    DEFAULT_PROFILE,
    PlannedRung,
    Profile,
    Rung,
    gop_frames,
    ladder_for,
    output_frame_rate,
)
from vsrc.media.playlists import missing_master_attributes, rewrite_master
from vsrc.media.probe import ACCEPTED_MIME_TYPES, SourceInfo, probe
from vsrc.media.progress import ProgressParser
from vsrc.media.runner import run_encode
from vsrc.media.storyboard import StoryboardPlan, plan_storyboard, storyboard_vtt

__all__ = [
    "ACCEPTED_MIME_TYPES",
    "DEFAULT_PROFILE",
    "MASTER_PLAYLIST",
    "VARIANT_PLAYLIST",
    "EncodeError",
    "MediaError",
    "PlannedRung",
    "ProbeError",
    "Profile",
    "ProgressParser",
    "Rung",
    "SourceInfo",
    "StoryboardPlan",
    "build_hls_command",
    "build_poster_command",
    "build_storyboard_command",
    "ffmpeg_exe",
    "gop_frames",
    "ladder_for",
    "missing_master_attributes",
    "output_frame_rate",
    "plan_storyboard",
    "poster_time",
    "probe",
    "rewrite_master",
    "run_encode",
    "storyboard_vtt",
]
