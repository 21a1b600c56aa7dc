"""Copying a local library into an S3 bucket (``vsrc storage migrate``): resumable, idempotent,
verified.

Resumable: an object already in the bucket with the local file's size is skipped, and unfinished
multipart uploads a killed run left for the keys being copied are aborted first. Idempotent: a
second run over an unchanged library copies nothing. Verified: every local file's size and MD5
(S3's ETag: the MD5 of the object, or of its parts' MD5s for a multipart upload of our part size)
is compared with the bucket's listing; an object that differs is copied again
(docs/architecture.md, "Storage").

Deletions: every object the migration copies carries ``MIGRATED`` metadata. An object so marked whose
local file is gone (the library changed between two runs) is removed from the bucket when its item is
still in the local library (a re-encode dropped a file, a signed marker was removed) or has no row any
more (the item was deleted). An item with a row but no local files keeps its objects (a library
emptied by hand after the switch is no reason to delete served media), and objects the migration did
not copy (written by a process already on S3) are never removed here: the orphan sweep judges those.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from vsrc.errors import StorageError
from vsrc.storage.local import LocalStorage
from vsrc.storage.s3 import S3Storage

_HASH_CHUNK = 1024**2
_MISSING = {"404", "NoSuchKey", "NotFound"}
#: User metadata on every object the migration copies: what a later run may remove again.
MIGRATED = {"vsrc-migrated": "1"}


@dataclass
class MigrateReport:
    copied: list[str] = field(default_factory=list)
    skipped: int = 0
    aborted_uploads: int = 0
    recopied: list[str] = field(default_factory=list)  # differed at verification, copied again
    bytes_copied: int = 0
    objects: int = 0
    removed: list[str] = field(default_factory=list)  # copied by a run before, gone from the library


@dataclass(frozen=True)
class Items:
    """Where items live in the key space (``FOLDER/ITEM/…``) and which of them have a row."""

    folders: tuple[str, ...]
    with_rows: Callable[[list[str]], set[str]]

    def item_of(self, key: str) -> str | None:
        parts = key.split("/")
        if len(parts) >= 2 and parts[0] in self.folders and not parts[1].startswith("."):
            return parts[1]
        return None


@dataclass(frozen=True)
class _Remote:
    size: int
    etag: str


def library_files(source: LocalStorage) -> Iterator[tuple[str, Path]]:
    """Every stored file as (key, path), sorted; hidden names are writes in progress (a temp file
    before its rename) and are left out."""
    for path in sorted(source.root.rglob("*")):
        relative = path.relative_to(source.root)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            yield relative.as_posix(), path


def migrate(
    source: LocalStorage,
    target: S3Storage,
    *,
    items: Items | None = None,
    progress: Callable[[str, str, int], None] | None = None,
) -> MigrateReport:
    """Copy every file of ``source`` missing from ``target``, verify all of them, then (given
    ``items``) remove what earlier runs copied and the library no longer holds (module docstring).
    ``progress(action, key, size)`` is called before each copy (``copy``, ``recopy``) and removal
    (``remove``)."""
    report = MigrateReport()
    files = list(library_files(source))
    report.objects = len(files)
    remote = _listing(target)
    report.aborted_uploads = _abort_stale_uploads(target, {key for key, _ in files})
    for key, path in files:
        size = path.stat().st_size
        there = remote.get(key)
        if there is not None and there.size == size:
            report.skipped += 1
            continue
        if progress is not None:
            progress("copy", key, size)
        target.upload(key, path, MIGRATED)
        report.copied.append(key)
        report.bytes_copied += size
    remote = _listing(target)
    for key, path in files:
        there = remote.get(key)
        if there is not None and there.size == path.stat().st_size and _etag_matches(path, there, target):
            continue
        if progress is not None:
            progress("recopy", key, path.stat().st_size)
        target.upload(key, path, MIGRATED)
        report.recopied.append(key)
        report.bytes_copied += path.stat().st_size
    if report.recopied:
        remote = _listing(target)
        bad = [
            key
            for key, path in files
            if (there := remote.get(key)) is None or not _etag_matches(path, there, target)
        ]
        if bad:
            raise StorageError(f"{len(bad)} object(s) differ from the local files after copying: {bad[:5]}")
    if items is not None:
        report.removed = _prune(target, remote, {key for key, _ in files}, items, progress)
    return report


def _prune(
    target: S3Storage,
    remote: dict[str, _Remote],
    local: set[str],
    items: Items,
    progress: Callable[[str, str, int], None] | None,
) -> list[str]:
    """Remove the objects an earlier run copied whose file the library no longer holds, unless their
    item has a row and no local file (module docstring); returns the keys removed."""
    stale = sorted(key for key in remote if key not in local and items.item_of(key) is not None)
    copied = [key for key in stale if _was_migrated(target, key)]
    if not copied:
        return []
    in_library = {item for key in local if (item := items.item_of(key)) is not None}
    # The rows are read after the bucket was listed: an item created meanwhile counts as live.
    live = items.with_rows(sorted({items.item_of(key) or "" for key in copied} - in_library))
    doomed = [key for key in copied if items.item_of(key) in in_library or items.item_of(key) not in live]
    for key in doomed:
        if progress is not None:
            progress("remove", key, remote[key].size)
    target.delete_keys(doomed)
    return doomed


def _was_migrated(target: S3Storage, key: str) -> bool:
    try:
        head = target.client.head_object(Bucket=target.bucket, Key=_base(target) + key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _MISSING:
            return False  # removed meanwhile
        raise StorageError(f"could not look up {key}: {exc}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"could not look up {key}: {exc}") from exc
    metadata: dict[str, str] = head.get("Metadata", {})
    return all(metadata.get(name) == value for name, value in MIGRATED.items())


def _base(target: S3Storage) -> str:
    return f"{target.location.prefix}/" if target.location.prefix else ""


def _listing(target: S3Storage) -> dict[str, _Remote]:
    base = _base(target)
    found: dict[str, _Remote] = {}
    try:
        pages = target.client.get_paginator("list_objects_v2").paginate(Bucket=target.bucket, Prefix=base)
        for page in pages:
            for obj in page.get("Contents", []):
                found[obj["Key"][len(base) :]] = _Remote(int(obj["Size"]), obj["ETag"].strip('"'))
    except (BotoCoreError, ClientError) as exc:
        raise StorageError(f"could not list {target.location.describe()}: {exc}") from exc
    return found


def _abort_stale_uploads(target: S3Storage, keys: set[str]) -> int:
    """Multipart uploads of keys this run copies can only be a killed earlier run's: end them."""
    base = _base(target)
    aborted = 0
    try:
        pages = target.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=target.bucket, Prefix=base
        )
        for page in pages:
            for upload in page.get("Uploads", []):
                if upload["Key"][len(base) :] in keys:
                    target.client.abort_multipart_upload(
                        Bucket=target.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    aborted += 1
    except (BotoCoreError, ClientError) as exc:
        raise StorageError(f"could not end unfinished uploads: {exc}") from exc
    return aborted


def _etag_matches(path: Path, there: _Remote, target: S3Storage) -> bool:
    return expected_etag(path, target.part_size) == there.etag


def expected_etag(path: Path, part_size: int) -> str:
    """The ETag S3 gives ``path`` uploaded by ``S3Storage.upload``: the MD5 of the bytes below the
    multipart threshold, else the MD5 of the parts' MD5s and ``-PARTS``."""
    whole = hashlib.md5(usedforsecurity=False)
    parts: list[bytes] = []
    part = hashlib.md5(usedforsecurity=False)
    in_part = 0
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            size += len(chunk)
            whole.update(chunk)
            while chunk:
                take = chunk[: part_size - in_part]
                part.update(take)
                in_part += len(take)
                chunk = chunk[len(take) :]
                if in_part == part_size:
                    parts.append(part.digest())
                    part, in_part = hashlib.md5(usedforsecurity=False), 0
    if size < part_size:
        return whole.hexdigest()
    if in_part:
        parts.append(part.digest())
    return f"{hashlib.md5(b''.join(parts), usedforsecurity=False).hexdigest()}-{len(parts)}"
