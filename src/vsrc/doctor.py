"""``vsrc doctor``: checks of everything VSRC needs, each with a readable verdict."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

from sqlalchemy import text

from vsrc.errors import StorageError
from vsrc.redact import redact_url, scrub_passwords
from vsrc.runtime import Runtime
from vsrc.storage.url import S3Location

Check = tuple[str, bool, str]


def _ffmpeg(runtime: Runtime) -> Check:
    settings = runtime.settings
    try:
        out = subprocess.run(
            [settings.ffmpeg_path, "-hide_banner", "-encoders"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return "ffmpeg", False, f"{settings.ffmpeg_path}: {exc}"
    if "libx264" not in out:
        return "ffmpeg", False, f"{settings.ffmpeg_path} has no libx264 encoder"
    return "ffmpeg", True, settings.ffmpeg_path


def _database(runtime: Runtime) -> Check:
    settings = runtime.settings
    try:
        with runtime.engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:  # any driver error is a finding to print, not a crash
        return "database", False, f"{exc.__class__.__name__}: {exc} (did you run 'vsrc migrate'?)"
    from alembic.script import ScriptDirectory

    from vsrc.db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(settings.sqlalchemy_url)).get_current_head()
    where = redact_url(settings.sqlalchemy_url)
    if version != head:
        return "database", False, f"{where} at revision {version}, code expects {head}: run 'vsrc migrate'"
    return "database", True, f"{where} at revision {version}"


def _storage(runtime: Runtime) -> Check:
    location = runtime.settings.storage_location
    if isinstance(location, S3Location):
        return _s3(runtime)
    root = location.root
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".doctor"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        return "storage", False, f"{root} is not writable: {exc}"
    free = shutil.disk_usage(root).free
    if free < 1024**3:
        return "storage", False, f"{root}: only {free // 1024**2} MiB free"
    return "storage", True, f"{root} ({free // 1024**3} GiB free)"


def _s3(runtime: Runtime) -> Check:
    from vsrc.storage.s3 import S3Storage

    storage = runtime.storage
    assert isinstance(storage, S3Storage)  # the runtime builds S3Storage for every s3:// location
    try:
        where = storage.verify()
    except StorageError as exc:
        return "storage", False, exc.message
    # Honest about this release: the bucket works, the media paths do not use it yet.
    return "storage", True, f"{where} (reachable, credentials may write; api/worker/ingest: not yet on S3)"


def _queue(runtime: Runtime) -> Check:
    settings = runtime.settings
    try:
        pending = runtime.queue.pending_count()
    except Exception as exc:  # any backend error is a finding to print
        return "queue", False, f"{exc.__class__.__name__}: {exc}"
    where = redact_url(settings.redis_url) if settings.redis_url else settings.queue_path
    return "queue", True, f"{where} ({pending} pending)"


def run_checks(runtime: Runtime) -> Iterator[Check]:
    settings = runtime.settings
    for check in (_ffmpeg, _database, _storage, _queue):
        name, ok, detail = check(runtime)
        # A driver's error message may quote its URL: no password is printed, whatever it says.
        yield name, ok, scrub_passwords(detail, settings.database_url, settings.redis_url)
