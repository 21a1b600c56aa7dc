"""The storage protocol every backend implements. Keys are ``/``-separated relative paths."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class Storage(Protocol):
    def put_file(self, key: str, source: Path) -> None:
        """Store ``source`` under ``key``, consuming it (a rename when on the same filesystem)."""

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store a small object (markers, manifests) under ``key``."""

    def local_path(self, key: str) -> Path:
        """A local filesystem path for ``key`` (for ffmpeg and PyAV)."""

    def exists(self, key: str) -> bool: ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; returns how many files were removed."""
