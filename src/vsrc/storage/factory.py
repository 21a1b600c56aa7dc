"""Build the storage a ``VSRC_STORAGE_URL`` names."""

from __future__ import annotations

from pathlib import Path

from vsrc.storage.base import Storage
from vsrc.storage.local import LocalStorage
from vsrc.storage.url import S3Location, StorageLocation


def open_storage(location: StorageLocation, *, scratch: Path) -> Storage:
    """``scratch``: this process's local folder for S3 stages and fetched sources."""
    if isinstance(location, S3Location):
        from vsrc.storage.s3 import S3Storage

        return S3Storage(location, scratch=scratch)
    return LocalStorage(location.root)
