"""The two storage backends under test: a local folder and S3 on a real S3 protocol server (moto)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.s3 import REGION, s3_client
from vsrc.storage import LocalStorage, Storage
from vsrc.storage.s3 import S3Storage
from vsrc.storage.url import S3Location

PART = 5 * 1024**2  # S3's smallest multipart part: the streaming tests cross it


@dataclass
class Backend:
    storage: Storage
    leftovers: Callable[[], list[str]]  # anything an aborted write could leave behind


def local_backend(tmp_path: Path) -> Backend:
    root = tmp_path / "storage"
    return Backend(LocalStorage(root), lambda: sorted(str(p) for p in root.rglob("*") if p.is_file()))


def s3_backend(endpoint: str, bucket: str, scratch: Path) -> Backend:
    location = S3Location(bucket=bucket, prefix="lib/v1", endpoint=endpoint, region=REGION)
    client = s3_client(endpoint)

    def leftovers() -> list[str]:
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        objects = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        return [f"upload {u['Key']}" for u in uploads] + [f"object {o['Key']}" for o in objects]

    return Backend(S3Storage(location, scratch=scratch, part_size=PART), leftovers)


def remote(backend: Backend) -> bool:
    return isinstance(backend.storage, S3Storage)


def read(storage: Storage, key: str, start: int = 0, stop: int | None = None) -> bytes:
    return b"".join(storage.read_range(key, start, stop))
