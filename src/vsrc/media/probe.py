"""In-process probing with PyAV (the bundled ffmpeg has no ffprobe).

:func:`probe` opens the container, picks the main video stream, and decodes the first frame: a
file is only accepted when at least one video frame actually decodes. Rotation is read from that
decoded frame (``frame.rotation``, i.e. the display matrix), the only place PyAV exposes it.

Degenerate sources are refused here, before anything is stored or encoded (docs/architecture.md,
"Media"): a picture smaller than ``MIN_SOURCE_SIDE`` on a side, larger than ``max_pixels``
(checked from the stream header, before a frame is decoded), or whose frame timestamps jump by
more than ``MAX_FRAME_GAP_SECONDS`` (the encoder would fill the gap with copies of a frame). The
duration is what the packets span, not what the container header claims.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import av
import av.error
from av.container import InputContainer
from av.stream import Disposition
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from vsrc.media.errors import ProbeError, SourceReadError

__all__ = [
    "ACCEPTED_MIME_TYPES",
    "DEFAULT_MAX_SOURCE_PIXELS",
    "HTTP_OPTIONS",
    "MAX_FRAME_GAP_SECONDS",
    "MIN_SOURCE_SIDE",
    "SourceInfo",
    "guess_mime_type",
    "is_url",
    "probe",
]

#: MIME types of the accepted upload containers (MP4, WebM, MOV, AVI, MKV, FLV, WMV, M4V).
ACCEPTED_MIME_TYPES: frozenset[str] = frozenset(
    {
        "video/mp4",
        "video/webm",
        "video/quicktime",
        "video/x-msvideo",
        "video/x-matroska",
        "video/x-flv",
        "video/x-ms-wmv",
        "video/x-m4v",
    }
)

# How many packets of the video stream we demux at most while looking for the first frame.
_MAX_PACKETS_FOR_FIRST_FRAME = 600

#: Smallest accepted picture side in pixels (stored and displayed): one H.264 macroblock. Smaller
#: is no watchable video, and the encoder's scaler and ladder cannot work with 1-pixel sides.
MIN_SOURCE_SIDE = 16
#: ffmpeg http protocol options for reading a source URL (a presigned S3 GET): seekable with range
#: requests on one kept-alive connection; a connection dropped or refused mid-read is reopened at the
#: offset it stopped at, giving up after ``reconnect_delay_max`` seconds. An HTTP error answer
#: (404: the object is gone; 403: the signature expired) is not retried.
HTTP_OPTIONS: tuple[tuple[str, str], ...] = (
    ("seekable", "1"),
    ("multiple_requests", "1"),
    ("reconnect", "1"),
    ("reconnect_streamed", "1"),
    ("reconnect_on_network_error", "1"),
    ("reconnect_delay_max", "10"),
)
#: Seconds a read from a source URL may block (PyAV's ``timeout``; ffmpeg's ``-rw_timeout``).
URL_TIMEOUT = 30.0

#: Default largest accepted picture, in pixels (8192x8192; ``VSRC_MAX_SOURCE_PIXELS``).
DEFAULT_MAX_SOURCE_PIXELS = 8192 * 8192
#: Longest accepted gap between two consecutive video frames, in seconds. A longer one is a broken
#: timestamp, not content: encoded at a constant frame rate it would become hours of one frame.
MAX_FRAME_GAP_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What the pipeline needs to know about a source video.

    ``width``/``height`` are the decoded (coded, cropped) picture size as stored. ``rotation`` is
    the display rotation in degrees (0, 90, 180 or 270; other angles are kept as is) taken from
    the display matrix of the first decoded frame. ``display_width``/``display_height`` are the
    size the picture is shown at: the non-square sample aspect ratio applied to the width (if
    any), then swapped for 90/270 rotations. Rungs are planned from the display size because
    ffmpeg auto-rotates while decoding.

    ``fps`` is the average frame rate (frames / duration) as a float; ``frame_rate`` is the
    nominal rate ffmpeg would use for constant-frame-rate output (``guessed_rate``), as an exact
    fraction (e.g. 30000/1001), or None when the file carries none. ``is_vfr`` is True when the
    two differ by more than 1 %.
    """

    width: int
    height: int
    rotation: int
    display_width: int
    display_height: int
    fps: float
    duration: float
    has_audio: bool
    video_codec: str
    format_name: str
    mime_type: str
    bit_rate: int | None
    frame_rate: Fraction | None = None
    is_vfr: bool = False
    pix_fmt: str | None = None
    sample_aspect_ratio: Fraction | None = None
    audio_codec: str | None = None
    audio_channels: int | None = None
    audio_sample_rate: int | None = None
    video_stream_index: int = 0
    audio_stream_index: int | None = None

    @property
    def is_portrait(self) -> bool:
        return self.display_height > self.display_width

    @property
    def short_side(self) -> int:
        return min(self.display_width, self.display_height)

    @property
    def long_side(self) -> int:
        return max(self.display_width, self.display_height)


def guess_mime_type(
    format_name: str,
    extension: str = "",
    *,
    video_codec: str | None = None,
    major_brand: str | None = None,
) -> str | None:
    """MIME type of an accepted container, or None when the container is not accepted.

    ``format_name`` is the demuxer name as PyAV/ffmpeg reports it (``"mov,mp4,m4a,3gp,3g2,mj2"``,
    ``"matroska,webm"``, ``"avi"``, ``"flv"``, ``"asf"``); the file extension (with or without the
    dot) and the MP4 ``major_brand`` tell apart the variants one demuxer handles.
    """
    names = set(format_name.lower().split(","))
    ext = extension.lower().lstrip(".")
    brand = (major_brand or "").strip().lower()
    if names & {"mov", "mp4"}:
        if ext == "mov" or brand == "qt":
            return "video/quicktime"
        if ext == "m4v" or brand == "m4v":
            return "video/x-m4v"
        if ext in {"3gp", "3gpp"}:
            return "video/3gpp"
        return "video/mp4"
    if names & {"matroska", "webm"}:
        if ext == "webm":
            return "video/webm"
        if ext in {"mkv", "mk3d"}:
            return "video/x-matroska"
        if video_codec in {"vp8", "vp9", "av1"}:
            return "video/webm"
        return "video/x-matroska"
    if "avi" in names:
        return "video/x-msvideo"
    if names & {"flv", "live_flv"}:
        return "video/x-flv"
    if names & {"asf", "asf_o"}:
        return "video/x-ms-wmv"
    return None


def _rate(value: Fraction | None) -> Fraction | None:
    if value is None or value <= 0:
        return None
    return Fraction(value)


def _pick_video_stream(container: InputContainer) -> VideoStream:
    candidates = [s for s in container.streams.video if not (s.disposition & Disposition.attached_pic)]
    if not candidates:
        raise ProbeError("The file contains no video stream.")

    # Prefer the stream marked default, then the largest picture.
    def key(s: VideoStream) -> tuple[int, int]:
        cc = s.codec_context
        return (1 if s.disposition & Disposition.default else 0, (cc.width or 0) * (cc.height or 0))

    return max(candidates, key=key)


def _first_frame(container: InputContainer, stream: VideoStream) -> VideoFrame:
    packets = 0
    for packet in container.demux(stream):
        packets += 1
        for frame in packet.decode():
            if isinstance(frame, VideoFrame):
                return frame
        if packets >= _MAX_PACKETS_FOR_FIRST_FRAME:
            break
    raise ProbeError("No video frame could be decoded from the file.")


def _normalise_rotation(value: float) -> int:
    degrees = round(value) % 360
    nearest = round(degrees / 90) * 90 % 360
    return nearest if abs(degrees - nearest) <= 1 else degrees


def _display_width(width: int, sar: Fraction | None) -> int:
    if sar is None or sar == 1:
        return width
    return max(1, round(width * sar))


def probe(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_SOURCE_PIXELS) -> SourceInfo:
    """Probe ``path`` (a local file, or an http(s) URL such as ``Storage.readable`` gives) and
    decode its first video frame.

    Raises :class:`ProbeError` when the file cannot be opened as media, is not in an accepted
    container (MP4, WebM, MOV, AVI, MKV, FLV, WMV, M4V), has no video stream (audio only, cover
    art only), no frame of its video stream decodes, its picture is smaller than
    ``MIN_SOURCE_SIDE`` or larger than ``max_pixels``, or its frames are more than
    ``MAX_FRAME_GAP_SECONDS`` apart. A missing file (a URL answering 404) raises
    ``FileNotFoundError``; a URL that cannot be read (connection refused or dropped, another HTTP
    error) raises :class:`SourceReadError`, which a retry may cure.
    """
    where = os.fspath(path)
    remote = is_url(where)
    if not remote and not Path(where).exists():
        raise FileNotFoundError(where)
    suffix = PurePosixPath(urlsplit(where).path).suffix if remote else Path(where).suffix
    try:
        container = _open(where)
    except FileNotFoundError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, UnicodeError) as exc:
        _raise_read_error(exc, remote)
        raise ProbeError("The file is not a readable video file.") from _cause(exc, remote)
    try:
        info = _probe_open(container, suffix, max_pixels)
        span = _packet_span(where, info.video_stream_index, info.audio_stream_index)
    except ProbeError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, UnicodeError, ZeroDivisionError) as exc:
        _raise_read_error(exc, remote)
        raise ProbeError("The video stream could not be decoded.") from _cause(exc, remote)
    finally:
        container.close()
    # A header duration the packets contradict is not the duration. The tolerance covers packets
    # without a duration of their own (the span then misses the last frame).
    if span is not None and (info.duration <= 0 or info.duration > span + max(1.0, 0.1 * span)):
        return dataclasses.replace(info, duration=span)
    return info


def is_url(path: str) -> bool:
    """An http(s) URL rather than a local path (local paths given to probe are never URLs)."""
    return path.startswith(("http://", "https://"))


def _open(where: str) -> InputContainer:
    if is_url(where):
        # Read with range requests; a dropped connection is reopened where it stopped.
        return av.open(
            where, mode="r", metadata_errors="ignore", options=dict(HTTP_OPTIONS), timeout=URL_TIMEOUT
        )
    return av.open(where, mode="r", metadata_errors="ignore")


def _raise_read_error(exc: BaseException, remote: bool) -> None:
    """For a URL: 404 → ``FileNotFoundError``, a network or HTTP error → ``SourceReadError``."""
    if not remote:
        return
    if isinstance(exc, av.error.HTTPNotFoundError):
        raise FileNotFoundError("the source URL answered 404") from None
    if isinstance(exc, av.error.InvalidDataError):
        return  # the bytes arrived and are not video
    if isinstance(exc, (av.error.HTTPError, OSError, av.error.EOFError)):
        raise SourceReadError(f"The source could not be read: {type(exc).__name__}") from None


def _cause(exc: BaseException, remote: bool) -> BaseException | None:
    """The exception to chain: PyAV's errors name the file they failed on, and a URL's query is a
    presigned signature that must not reach a log (a logged traceback prints the chain)."""
    return None if remote else exc


def _check_size(width: int, height: int, max_pixels: int, what: str = "") -> None:
    if min(width, height) < MIN_SOURCE_SIDE:
        raise ProbeError(
            f"The video{what} is {width}x{height} pixels; "
            f"at least {MIN_SOURCE_SIDE}x{MIN_SOURCE_SIDE} is required."
        )
    if width * height > max_pixels:
        raise ProbeError(
            f"The video is {width}x{height} pixels ({width * height}); "
            f"at most {max_pixels} pixels per frame are accepted."
        )


def _packet_span(where: str, video_index: int, audio_index: int | None) -> float | None:
    """Seconds spanned by the packets of the video (and main audio) stream, read without decoding;
    ``ProbeError`` when two consecutive video frames are more than ``MAX_FRAME_GAP_SECONDS`` apart.
    None when the packets carry no timestamps."""
    with _open(where) as container:
        streams = [container.streams[video_index]]
        if audio_index is not None:
            streams.append(container.streams[audio_index])
        starts: dict[int, list[float]] = {s.index: [] for s in streams}
        end = -math.inf
        for packet in container.demux(streams):
            ts = packet.pts if packet.pts is not None else packet.dts
            if ts is None or packet.time_base is None:
                continue
            start = float(ts * packet.time_base)
            starts[packet.stream_index].append(start)
            end = max(end, start + float((packet.duration or 0) * packet.time_base))
    video = sorted(starts[video_index])
    gap = max((b - a for a, b in itertools.pairwise(video)), default=0.0)
    if gap > MAX_FRAME_GAP_SECONDS:
        raise ProbeError(
            f"Two consecutive video frames are {gap:.0f} s apart (at most {MAX_FRAME_GAP_SECONDS:.0f} s "
            "are accepted): the file's timestamps are broken."
        )
    first = min((t[0] for t in map(sorted, starts.values()) if t), default=None)
    if first is None or not math.isfinite(end):
        return None
    return max(0.0, end - first)


def _probe_open(container: InputContainer, suffix: str, max_pixels: int) -> SourceInfo:
    format_name = container.format.name
    stream = _pick_video_stream(container)
    cc = stream.codec_context
    video_codec = cc.name
    major_brand = container.metadata.get("major_brand")
    mime = guess_mime_type(format_name, suffix, video_codec=video_codec, major_brand=major_brand)
    if mime is None:
        raise ProbeError(
            "Unsupported container format; accepted formats are MP4, WebM, MOV, AVI, MKV, FLV, WMV and M4V."
        )

    audio_streams = list(container.streams.audio)
    audio = audio_streams[0] if audio_streams else None

    avg = _rate(stream.average_rate)
    guessed = _rate(stream.guessed_rate) or avg
    if avg is not None and guessed is not None and avg > 2 * guessed:
        # Some muxers (AVI with B-frames, ...) report nonsense averages (e.g. 600 for 25 fps).
        avg = guessed

    duration = 0.0
    if container.duration is not None and container.duration > 0:
        duration = container.duration / 1_000_000
    elif stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)

    if cc.width and cc.height:  # refuse a huge picture before decoding (and allocating) one
        _check_size(cc.width, cc.height, max_pixels)
    frame = _first_frame(container, stream)
    width, height = frame.width, frame.height
    if width <= 0 or height <= 0:
        raise ProbeError("The video stream has no picture size.")
    _check_size(width, height, max_pixels)
    rotation = _normalise_rotation(float(frame.rotation or 0))

    sar_raw = stream.sample_aspect_ratio or cc.sample_aspect_ratio
    sar = Fraction(sar_raw) if sar_raw is not None and sar_raw > 0 else None
    display_w = _display_width(width, sar)
    display_h = height
    _check_size(display_w, display_h, max_pixels, " (as displayed, with its pixel aspect ratio)")
    if rotation in (90, 270):
        display_w, display_h = display_h, display_w

    fps = float(avg) if avg else (float(guessed) if guessed else 0.0)
    if not math.isfinite(fps):
        fps = 0.0
    is_vfr = bool(avg and guessed and abs(float(avg) - float(guessed)) > 0.01 * float(guessed))

    bit_rate = container.bit_rate if container.bit_rate and container.bit_rate > 0 else None

    return SourceInfo(
        width=width,
        height=height,
        rotation=rotation,
        display_width=display_w,
        display_height=display_h,
        fps=fps,
        duration=duration,
        has_audio=audio is not None,
        video_codec=video_codec,
        format_name=format_name,
        mime_type=mime,
        bit_rate=bit_rate,
        frame_rate=guessed,
        is_vfr=is_vfr,
        pix_fmt=frame.format.name if frame.format is not None else None,
        sample_aspect_ratio=sar,
        audio_codec=audio.codec_context.name if audio is not None else None,
        audio_channels=audio.codec_context.channels if audio is not None else None,
        audio_sample_rate=audio.codec_context.sample_rate if audio is not None else None,
        video_stream_index=stream.index,
        audio_stream_index=audio.index if audio is not None else None,
    )
