"""Build the storage a ``VSRC_STORAGE_URL`` names, and refuse S3 where it is not wired in yet."""

from __future__ import annotations

from pathlib import Path

from vsrc.errors import ConfigError
from vsrc.storage.base import Storage
from vsrc.storage.local import LocalStorage
from vsrc.storage.url import S3Location, StorageLocation


def open_storage(location: StorageLocation, *, scratch: Path) -> Storage:
    """``scratch``: this process's local folder for S3 stages and fetched sources."""
    if isinstance(location, S3Location):
        from vsrc.storage.s3 import S3Storage

        return S3Storage(location, scratch=scratch)
    return LocalStorage(location.root)


def refuse_unwired(location: StorageLocation, what: str) -> None:
    """S3 is not used by uploads, encoding, live ingest and delivery yet: a process that needs them
    stops here instead of silently writing media to its local disk (docs/architecture.md, "Storage")."""
    if isinstance(location, S3Location):
        raise ConfigError(
            f"VSRC_STORAGE_URL: s3:// storage is not yet supported for {what} (uploads, encoding, live "
            "ingest and delivery still read and write local files); use file:///PATH for now. "
            "'vsrc doctor' already checks the bucket."
        )
