"""Local-filesystem storage rooted at one folder; no key may escape it."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from vsrc.errors import NotFound, StorageError
from vsrc.storage.base import READABLE_SECONDS
from vsrc.storage.stage import LocalStage

CHUNK = 256 * 1024
# Names of received uploads in the scratch folder: ``upload-*.part``, the pattern the API's sweep of
# abandoned uploads matches (vsrc.services.housekeeping).
INCOMING_PREFIX = "upload-"


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _resolve(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if path != self.root and self.root not in path.parents:
            raise StorageError(f"storage key escapes the root: {key!r}")
        return path

    def put_file(self, key: str, source: Path) -> None:
        target = self._resolve(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(source, target)
            except OSError:
                # Different filesystem: fall back to a move (copy + delete).
                shutil.move(str(source), target)
        except OSError as exc:
            raise StorageError(f"could not store {key}: {exc}") from exc

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self._resolve(key)
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, target)
        except OSError as exc:
            raise StorageError(f"could not store {key}: {exc}") from exc

    @contextmanager
    def writer(self, key: str) -> Iterator[_FileWriter]:
        target = self._resolve(key)
        # A hidden name in the same folder: the final rename is atomic, readers never see half a file.
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as handle:
                yield _FileWriter(handle)
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StorageError(f"could not store {key}: {exc}") from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def receive(self, key: str, scratch: Path) -> LocalIncoming:
        target = self._resolve(key)
        # Received into ``scratch`` (where the API sweeps what a killed process left, by age) and
        # renamed into place on commit: one write, as fast as before S3 existed.
        tmp = scratch / f"{INCOMING_PREFIX}{secrets.token_hex(8)}.part"
        try:
            scratch.mkdir(parents=True, exist_ok=True)
            handle = tmp.open("wb")
        except OSError as exc:
            raise StorageError(f"could not store {key}: {exc}") from exc
        return LocalIncoming(key, target, tmp, handle)

    def abort_unfinished(self, max_age: float, keep: Callable[[], Collection[str]] | None = None) -> int:
        return 0  # received uploads live in the scratch folder until committed

    def part_uploads(self) -> None:
        return None  # a tus upload is a partial file on the API machine's disk (services/partial_files.py)

    @contextmanager
    def stage(
        self, prefix: str, *, fresh: bool = True, sync_every: float | None = None
    ) -> Iterator[LocalStage]:
        folder = self._resolve(prefix)
        if folder == self.root:
            raise StorageError("refusing to stage the storage root")
        if fresh:
            self.delete_prefix(prefix)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"could not create {prefix}: {exc}") from exc
        yield LocalStage(folder)  # writers write in place: nothing to publish

    @contextmanager
    def fetch(self, key: str) -> Iterator[Path]:
        path = self._resolve(key)
        if not path.is_file():
            raise NotFound(f"no stored object {key}")
        yield path

    @contextmanager
    def readable(self, key: str, *, expires: float = READABLE_SECONDS) -> Iterator[str]:
        path = self._resolve(key)
        if not path.is_file():
            raise NotFound(f"no stored object {key}")
        yield str(path)

    def local_path(self, key: str) -> Path:
        return self._resolve(key)

    def local_file(self, key: str) -> Path | None:
        path = self._resolve(key)
        return path if path.is_file() else None

    def exists(self, key: str) -> bool:
        return self._resolve(key).exists()

    def size(self, key: str) -> int:
        path = self._resolve(key)
        if not path.is_file():
            raise NotFound(f"no stored object {key}")
        return path.stat().st_size

    def read_range(self, key: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        path = self._resolve(key)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise NotFound(f"no stored object {key}") from exc
        size = os.fstat(handle.fileno()).st_size
        if start < 0 or start > size or (stop is not None and stop < start):
            handle.close()
            raise StorageError(f"range {start}-{stop} not satisfiable for {key} ({size} bytes)")
        return _chunks(handle, start, size if stop is None else min(stop, size))

    def list(self, prefix: str) -> list[str]:
        folder = self._resolve(prefix)
        if not folder.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in folder.rglob("*") if p.is_file())

    def children(self, folder: str) -> dict[str, float]:
        base = self._resolve(folder)
        if base == self.root or not base.is_dir():
            return {}
        found: dict[str, float] = {}
        for child in base.iterdir():
            try:
                # Folders count too: a stage's folder is created before ffmpeg writes into it.
                times = [child.lstat().st_mtime]
                if child.is_dir():
                    times += [p.lstat().st_mtime for p in child.rglob("*")]
            except FileNotFoundError:
                continue  # removed meanwhile (a delete, a temp file renamed)
            found[child.name] = max(times)
        return found

    def delete_prefix(self, prefix: str) -> int:
        target = self._resolve(prefix)
        if target == self.root:
            raise StorageError("refusing to delete the storage root")
        if not target.exists():
            return 0
        if target.is_file():
            target.unlink()
            return 1
        count = sum(1 for p in target.rglob("*") if p.is_file())
        try:
            shutil.rmtree(target)
        except OSError as exc:
            raise StorageError(f"could not delete {prefix}: {exc}") from exc
        return count


class LocalIncoming:
    """An upload written to a scratch file; ``commit`` moves it into place."""

    def __init__(self, key: str, target: Path, tmp: Path, handle: BinaryIO) -> None:
        self.key = key
        self._tmp = tmp
        self._target = target
        self._handle: BinaryIO | None = handle

    @property
    def copy(self) -> Path:
        if self._handle is not None:
            self._handle.flush()  # the probe reads every byte written so far
        return self._tmp

    def write(self, data: bytes) -> None:
        assert self._handle is not None, "write after commit or abort"
        self._handle.write(data)

    def commit(self) -> None:
        assert self._handle is not None, "commit after commit or abort"
        handle, self._handle = self._handle, None
        try:
            handle.close()
            self._target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(self._tmp, self._target)
            except OSError:
                # Scratch on another filesystem than the storage: a move (copy + delete).
                shutil.move(self._tmp, self._target)
        except OSError as exc:
            self._tmp.unlink(missing_ok=True)
            raise StorageError(f"could not store {self.key}: {exc}") from exc

    def abort(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            handle.close()
            self._tmp.unlink(missing_ok=True)


class _FileWriter:
    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle

    def write(self, data: bytes) -> None:
        self._handle.write(data)


def _chunks(handle: BinaryIO, start: int, stop: int) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        left = stop - start
        while left > 0:
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk
