"""One VOD encode: claim the row, encode the whole ladder with ONE ffmpeg, thumbnails, finish.

Every path ends the row in a definite state: ``completed``; ``failed`` with a human message
(permanent errors, or the last retry); or back to ``pending`` and re-raised so Huey retries it from
a clean output folder. The ffmpeg stderr tail goes to the log, never to the API.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from vsrc.db.models import EncodingProfile, Media
from vsrc.db.session import transaction
from vsrc.errors import InsufficientStorage, NotFound, StorageError
from vsrc.media import probed
from vsrc.media.commands import build_hls_command, build_poster_command, build_storyboard_command
from vsrc.media.errors import EncodeError, ProbeError, SourceReadError
from vsrc.media.ladder import PlannedRung, Profile, ladder_for
from vsrc.media.playlists import rewrite_master
from vsrc.media.probe import SourceInfo, probe
from vsrc.media.runner import run_encode
from vsrc.media.storyboard import plan_storyboard, storyboard_vtt
from vsrc.services import encoding, profiles
from vsrc.services.diskspace import is_no_space
from vsrc.services.uploads import source_fingerprint
from vsrc.storage.base import Stage
from vsrc.tasks.lanes import LANES
from vsrc.tasks.playable import PlayableWatch

if TYPE_CHECKING:
    from vsrc.runtime import Runtime


log = logging.getLogger("vsrc.tasks.encode")

HEARTBEAT_SECONDS = 5.0


NO_SPACE_MESSAGE = "Encoding failed: no space left on device"
SOURCE_MISSING_MESSAGE = "Encoding failed: the uploaded source is missing from storage"
STORAGE_FAILED_MESSAGE = "Encoding failed: the media storage could not be read or written"


class NoSpace(Exception):
    """The disk filled up during the encode (docs/architecture.md#failure-modes-and-limits)."""


class MediaGone(Exception):
    """The media row was deleted (or taken over) while encoding: stop and clean up."""


def time_limit(duration: float) -> float:
    """Wall-clock limit of one encode in seconds, proportional to the video's length."""
    return 300 + 20 * max(duration, 1)


def run_encode_job(ctx: Runtime, public_id: str, *, retries_left: int) -> None:
    """Encode ``public_id``; raises only to ask the queue for a retry."""
    with transaction(ctx.sessions) as session:
        media = encoding.claim(session, public_id=public_id, stale_after=ctx.settings.encode_stale_seconds)
        if media is None:
            log.info("encode %s: nothing to do (gone, finished, or held by another worker)", public_id)
            return
        profile = _profile_for(session, media)
    log.info("encode %s: picked up (attempt %d)", public_id, media.encode_attempts)
    outputs = (f"hls/{public_id}", f"thumbnails/{public_id}")
    try:
        _reset_and_encode(ctx, media, profile)
    except MediaGone:
        log.info("encode %s: media deleted while encoding; outputs removed", public_id)
        _remove(ctx, *outputs)
        return
    except NoSpace:
        # Outputs first: removing them frees the space the row's update needs.
        log.error("encode %s failed: no space left on device; partial output removed", public_id)
        _remove(ctx, *outputs)
        _finish(ctx, media, "failed", NO_SPACE_MESSAGE)
        return
    except NotFound:
        # Retrying cannot bring the source back (deleted from the bucket behind our back).
        log.error("encode %s failed: the source %s is missing from storage", public_id, media.source_key)
        _remove(ctx, *outputs)
        _finish(ctx, media, "failed", SOURCE_MISSING_MESSAGE)
        return
    except (SourceReadError, StorageError) as exc:
        # The storage did not answer (S3 unreachable, a connection dropped): transient.
        if retries_left <= 0:
            log.warning("encode %s failed: %s", public_id, exc)
            _remove(ctx, *outputs)
            _finish(ctx, media, "failed", STORAGE_FAILED_MESSAGE)
            return
        log.warning("encode %s: storage failure (%s), %d retries left", public_id, exc, retries_left)
        _finish(ctx, media, "pending", None)
        raise
    except (ProbeError, EncodeError) as exc:
        permanent = isinstance(exc, ProbeError) or exc.permanent
        if permanent or retries_left <= 0:
            log.warning("encode %s failed: %s", public_id, exc)
            _remove(ctx, *outputs)  # a failed item has nothing to play
            _finish(ctx, media, "failed", _human(exc))
            return
        log.warning("encode %s: retryable failure (%s), %d retries left", public_id, exc, retries_left)
        _finish(ctx, media, "pending", None)
        raise
    except Exception:
        log.exception("encode %s: unexpected error", public_id)
        _finish(
            ctx,
            media,
            "failed" if retries_left <= 0 else "pending",
            "Encoding failed because of an internal error" if retries_left <= 0 else None,
        )
        raise
    _finish(ctx, media, "completed", None)
    log.info("encode %s: completed", public_id)


def _reset_and_encode(ctx: Runtime, media: Media, profile: Profile) -> None:
    """Encode into fresh stages (a retry never mixes with a dead attempt's files): on S3 each segment is
    published as ffmpeg closes it, playlists after their segments (docs/architecture.md, "Storage")."""
    storage = ctx.storage
    try:
        with (
            _open_source(ctx, media) as source,
            storage.stage(f"hls/{media.public_id}") as hls,
            storage.stage(f"thumbnails/{media.public_id}") as thumbs,
        ):
            _encode(ctx, media, profile, source, hls, thumbs.path)
    except MediaGone:
        raise
    except Exception as exc:
        if _is_no_space(exc):
            raise NoSpace() from exc
        raise


def _open_source(ctx: Runtime, media: Media) -> AbstractContextManager[str | Path]:
    """The source for PyAV and ffmpeg, read in place (``Storage.readable``: the stored file, or on S3
    a presigned URL read with HTTP range requests, so ffmpeg starts at once and nothing of a large
    source is copied), or on S3 downloaded first when it is no larger than
    ``VSRC_SOURCE_FETCH_MAX_BYTES`` (docs/architecture.md, "Storage")."""
    if media.file_size <= ctx.settings.source_fetch_max_bytes:
        return ctx.storage.fetch(media.source_key)
    if media.duration:  # valid for the whole encode, which may be retried within the hour
        return ctx.storage.readable(media.source_key, expires=time_limit(media.duration) + 3600)
    return ctx.storage.readable(media.source_key)


def _is_no_space(exc: BaseException) -> bool:
    """ffmpeg, our own writes or the database ran out of disk."""
    if isinstance(exc, InsufficientStorage) or is_no_space(exc):
        return True
    if not isinstance(exc, EncodeError):
        return False
    return "no space left on device" in f"{exc.message}\n{exc.stderr_tail or ''}".lower()


def _profile_for(session: Session, media: Media) -> Profile:
    row = session.get(EncodingProfile, media.encoding_profile_id) if media.encoding_profile_id else None
    return profiles.to_profile(row or profiles.default_profile(session))


def _source_info(ctx: Runtime, media: Media, source: str | os.PathLike[str]) -> SourceInfo:
    """What the upload's probe stored, when the stored source is still the file it probed
    (vsrc.media.probed: its length and both ends, read through the storage); else a probe of
    ``source``. The stored result spares reading every packet of the file again."""
    max_pixels = ctx.settings.max_source_pixels
    info = probed.load(media.source_probe, source_fingerprint(ctx.storage, media.source_key))
    if info is not None and info.width * info.height <= max_pixels:
        log.info("encode %s: source info from the upload's probe", media.public_id)
        return info
    try:
        info = probe(source, max_pixels=max_pixels)
    except FileNotFoundError as exc:  # the object went between handing out its URL and reading it
        raise NotFound(f"no stored object {media.source_key}") from exc
    log.info("encode %s: source probed", media.public_id)
    return info


def _encode(
    ctx: Runtime, media: Media, profile: Profile, source: str | Path, hls: Stage, thumbs: Path
) -> None:
    out_dir = hls.path
    info = _source_info(ctx, media, source)
    rungs = ladder_for(info, profile)
    argv = build_hls_command(
        ffmpeg=ctx.settings.ffmpeg_path,
        source=source,
        info=info,
        rungs=rungs,
        profile=profile,
        out_dir=out_dir,
    )
    log.info("encode %s: %s", media.public_id, ", ".join(f"{r.name} {r.resolution}" for r in rungs))

    def announce() -> None:
        with transaction(ctx.sessions) as session:
            encoding.mark_playable(session, media_id=media.id, attempt=media.encode_attempts)

    playable = PlayableWatch(media.public_id, hls, [r.name for r in rungs], announce)

    def on_progress(percent: int) -> None:
        # 100 is written by _finish once thumbnails are done too.
        _beat(ctx, media, min(percent, 99))
        hls.sync()
        playable.check()

    def on_start(pid: int) -> None:
        log.info("encode %s: ffmpeg started", media.public_id)
        lane.attach(pid)
        playable.start()  # watches the first segments (vsrc.tasks.playable)

    with _Heartbeat(ctx, media):
        # While this encode makes its first segment, other encodes of this worker pause.
        with LANES.open(media.public_id) as lane:
            playable.lane = lane
            try:
                run_encode(
                    argv,
                    duration=info.duration,
                    on_progress=on_progress,
                    timeout=time_limit(info.duration),
                    logger=log,
                    on_start=on_start,
                )
            finally:
                playable.stop()
        hls.sync()
        playable.check()  # at the latest now, so media.playable always comes before media.completed
        rewrite_master(out_dir, rungs=rungs, profile=profile, info=info)
        _thumbnails(ctx, info, rungs[-1], out_dir, thumbs)


def _thumbnails(ctx: Runtime, info: SourceInfo, smallest: PlannedRung, out_dir: Path, thumbs: Path) -> None:
    """Poster and storyboard from the smallest rendition; a failure here leaves the video playable."""
    rendition = out_dir / smallest.name / "index.m3u8"
    ffmpeg = ctx.settings.ffmpeg_path
    plan = plan_storyboard(info.duration, smallest.width, smallest.height)
    try:
        run_encode(
            build_poster_command(
                ffmpeg=ffmpeg, source=rendition, duration=info.duration, out_path=thumbs / "poster.jpg"
            ),
            duration=0,
            on_progress=None,
            timeout=120,
            logger=log,
        )
        run_encode(
            build_storyboard_command(
                ffmpeg=ffmpeg, source=rendition, plan=plan, out_path=thumbs / "storyboard.jpg"
            ),
            duration=0,
            on_progress=None,
            timeout=300,
            logger=log,
        )
        (thumbs / "storyboard.vtt").write_text(storyboard_vtt(plan, info.duration, "storyboard.jpg"))
    except EncodeError as exc:
        log.warning("thumbnails failed (video stays playable): %s", exc)


class _Heartbeat:
    """Refreshes the row's heartbeat every few seconds while ffmpeg runs (progress may stall)."""

    def __init__(self, ctx: Runtime, media: Media) -> None:
        self.ctx, self.media = ctx, media
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"heartbeat-{media.id}", daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(HEARTBEAT_SECONDS):
            try:
                _beat(self.ctx, self.media, None)
            except MediaGone:
                return  # the progress callback notices too and stops ffmpeg
            except Exception:
                log.exception("heartbeat of media %d failed", self.media.id)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=HEARTBEAT_SECONDS + 5)


def _beat(ctx: Runtime, media: Media, progress: int | None) -> None:
    with transaction(ctx.sessions) as session:
        if not encoding.heartbeat(
            session, media_id=media.id, attempt=media.encode_attempts, progress=progress
        ):
            raise MediaGone()


def _finish(ctx: Runtime, media: Media, status: str, error: str | None) -> None:
    with transaction(ctx.sessions) as session:
        encoding.finish(session, media_id=media.id, attempt=media.encode_attempts, status=status, error=error)


def _remove(ctx: Runtime, *prefixes: str) -> None:
    for prefix in prefixes:
        try:
            ctx.storage.delete_prefix(prefix)
        except StorageError:
            log.exception("could not remove %s (the orphan sweep retries)", prefix)


def _human(exc: ProbeError | EncodeError) -> str:
    if isinstance(exc, ProbeError):
        return f"The uploaded file could not be decoded as video: {exc}"
    return f"Encoding failed: {exc.message}"
