"""Local-filesystem storage rooted at one folder; no key may escape it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from vsrc.errors import StorageError


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

    def local_path(self, key: str) -> Path:
        return self._resolve(key)

    def exists(self, key: str) -> bool:
        return self._resolve(key).exists()

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
