"""The storage protocol every backend implements. Keys are ``/``-separated relative paths."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

#: Default validity of ``Storage.readable`` URLs: an encode's time limit is set per source; 12 h
#: covers a long one. S3 signatures (SigV4) are valid for at most 7 days.
READABLE_SECONDS = 12 * 3600.0


class ObjectWriter(Protocol):
    def write(self, data: bytes) -> None:
        """Append ``data``; the object appears only when the writer's ``with`` block ends cleanly."""


class IncomingObject(Protocol):
    """An object being received (an upload): written as the bytes arrive, checked through ``copy``,
    then committed or aborted. Bounded memory on every backend (S3: one multipart part)."""

    @property
    def key(self) -> str: ...

    @property
    def copy(self) -> Path:
        """A local file holding every byte written so far, for checks (the probe) before ``commit``;
        it is gone once the object is committed or aborted."""

    def write(self, data: bytes) -> None: ...

    def commit(self) -> None:
        """Make the object appear under ``key`` (after ``copy`` was checked)."""

    def abort(self) -> None:
        """Leave neither the object, nor a partial upload, nor the local copy. Idempotent, and a no-op
        after ``commit``: call it on every way out."""


class Stage(Protocol):
    """A local folder whose files become the objects under one key prefix (see ``Storage.stage``)."""

    @property
    def path(self) -> Path:
        """Where writers (ffmpeg) write; names inside it map to ``PREFIX/name``."""

    def sync(self) -> int:
        """Publish what is finished now: the files a playlist names, then the playlists that changed,
        then delete objects whose file was removed. A no-op on local storage. Returns how many
        objects changed."""


class PartUploads(Protocol):
    """An object sent in parts by whichever process holds its upload at the time (S3's multipart
    upload API; a tus upload resumed on another API machine). Parts are at least 5 MiB but the last."""

    def begin(self, key: str) -> str:
        """Start an upload of ``key``; returns its upload id."""

    def put_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        """Send part ``number`` (1…10000); returns its ETag. ``NotFound`` if the upload was aborted."""

    def complete(self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> None:
        """Make ``key`` the concatenation of ``parts`` ((number, ETag), ascending)."""

    def abort(self, key: str, upload_id: str) -> None:
        """Free the upload's parts; idempotent."""


class Storage(Protocol):
    def put_file(self, key: str, source: Path) -> None:
        """Store ``source`` under ``key``, consuming it (a rename when on the same filesystem)."""

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store a small object (markers, manifests) under ``key``."""

    def writer(self, key: str) -> AbstractContextManager[ObjectWriter]:
        """Stream an object of unknown length with bounded memory. An exception inside the ``with``
        block leaves neither the object nor any partial upload behind."""

    def receive(self, key: str, scratch: Path) -> IncomingObject:
        """Start receiving ``key`` (an upload). Local storage writes a hidden file next to the target
        (``copy`` is that file, ``commit`` a rename); S3 streams a multipart upload while keeping a
        copy in the folder ``scratch`` for the checks (docs/architecture.md, "Storage")."""

    def abort_unfinished(self, max_age: float, keep: Callable[[], Collection[str]] | None = None) -> int:
        """End the unfinished uploads of killed processes: those untouched for ``max_age`` seconds
        (S3: multipart uploads, which cost storage until aborted; local storage has none, its
        uploads are scratch files the API sweeps), except the upload ids ``keep()`` names (read
        after the listing: paused tus uploads, alive until they expire). Returns how many were ended."""

    def part_uploads(self) -> PartUploads | None:
        """Uploads in parts that any process can continue (S3); None where an upload is a file on
        one machine's disk (local storage)."""

    def stage(
        self, prefix: str, *, fresh: bool = True, sync_every: float | None = None
    ) -> AbstractContextManager[Stage]:
        """A local folder for writing the objects under ``prefix``. ``fresh``: first delete what the
        prefix holds (a retry never mixes with a previous attempt). ``sync_every``: also sync on a
        thread at that interval (live). A clean exit publishes every file left in the folder; an
        exception publishes nothing more (the caller deletes the prefix if it wants nothing kept).
        On S3 the folder is scratch, removed on exit; on local storage it is the stored folder."""

    def fetch(self, key: str) -> AbstractContextManager[Path]:
        """A local file holding ``key``'s bytes for ffmpeg and PyAV to read, never to write: the stored
        file itself on local storage, a scratch download removed on exit on S3. ``NotFound`` when
        there is no such object."""

    def readable(self, key: str, *, expires: float = READABLE_SECONDS) -> AbstractContextManager[str]:
        """Something ffmpeg and PyAV open to read ``key`` without a local copy: the stored file's
        absolute path on local storage; on S3 a presigned GET URL valid for ``expires`` seconds
        (give it the reader's time limit), which ffmpeg reads with HTTP range requests, fetching only
        what it demuxes. Never to write to. ``NotFound`` when there is no such object."""

    def local_path(self, key: str) -> Path:
        """A local filesystem path for ``key`` (for ffmpeg and PyAV). Local storage only: S3 raises
        ``StorageError`` (docs/architecture.md, "Storage")."""

    def local_file(self, key: str) -> Path | None:
        """The local file holding ``key`` when this backend keeps one and it exists, else None: a
        zero-copy fast path for readers (delivery stats and reads it directly; a front nginx can
        send it with X-Accel-Redirect). Never a path to write to; S3 always answers None."""

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int:
        """The object's length in bytes; ``NotFound`` when there is none."""

    def read_range(self, key: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """Bytes ``[start, stop)`` of the object in chunks (``stop`` past the end is clamped);
        ``NotFound`` when missing, ``StorageError`` when ``start`` lies past the end."""

    def list(self, prefix: str) -> list[str]:
        """Every key under the folder ``prefix`` (``media/a`` never lists ``media/ab/…``), sorted."""

    def children(self, folder: str) -> dict[str, float]:
        """Each name directly inside the folder ``folder`` (an object or a sub-folder) mapped to the
        newest modification time (Unix seconds) of anything under it: the orphan sweep's view of
        the items of ``hls/``, ``media/``… and how recently each was written. Empty if none."""

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; returns how many files were removed."""
