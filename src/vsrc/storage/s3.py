"""S3-compatible object storage (AWS S3, MinIO, Ceph RGW, R2) through boto3.

Keys map to ``PREFIX/key`` in one bucket. Credentials come from the standard AWS chain. ``local_path``
is refused: this backend has no local copy of anything, and handing out a scratch download would let a
writer write into a file that never reaches the bucket (docs/architecture.md, "Storage").
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from vsrc.errors import NotFound, StorageError
from vsrc.storage.base import READABLE_SECONDS
from vsrc.storage.s3_check import explain
from vsrc.storage.s3_parts import S3Parts
from vsrc.storage.s3_writer import MultipartWriter, S3Incoming
from vsrc.storage.stage import CONTENT_TYPES, AutoSync, RemoteStage, new_scratch, sweep_scratch
from vsrc.storage.url import S3Location

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

# S3's smallest part (except the last) is 5 MiB; 8 MiB bounds an upload's memory to one part.
PART_SIZE = 8 * 1024**2
CHUNK = 256 * 1024
_MISSING = {"404", "NoSuchKey", "NotFound"}
# SigV4 presigned URLs are valid for at most 7 days (temporary credentials end them sooner).
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


def make_client(location: S3Location) -> S3Client:
    config = Config(
        connect_timeout=5,
        # CompleteMultipartUpload of a large object may answer only after minutes (AWS documents
        # it); a retry after a read timeout then races the first completion (moto failed so).
        read_timeout=300,
        retries={"max_attempts": 3, "mode": "standard"},
        # Self-hosted servers (MinIO, moto) rarely have per-bucket DNS names.
        s3={"addressing_style": "path" if location.endpoint else "auto"},
        # Presigned URLs (Storage.readable) signed with SigV4, which every S3 region accepts.
        signature_version="s3v4",
    )
    client: S3Client = boto3.session.Session().client(
        "s3", endpoint_url=location.endpoint, region_name=location.region, config=config
    )
    return client


def check_key(key: str) -> str:
    """Refuse keys that could name something outside the configured prefix."""
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        raise StorageError(f"storage key escapes the root: {key!r}")
    if any(seg in ("", ".", "..") for seg in key.rstrip("/").split("/")):
        raise StorageError(f"storage key escapes the root: {key!r}")
    return key.rstrip("/")


class S3Storage:
    def __init__(
        self, location: S3Location, *, scratch: Path | None = None, part_size: int = PART_SIZE
    ) -> None:
        self.location = location
        # Local scratch for stages and fetched sources; leftovers of dead processes are swept here.
        self.scratch = scratch
        if scratch is not None:
            sweep_scratch(scratch)
        self.bucket = location.bucket
        self.part_size = part_size
        self.client = make_client(location)
        self._base = f"{location.prefix}/" if location.prefix else ""

    def _key(self, key: str) -> str:
        return self._base + check_key(key)

    def verify(self) -> str:
        """Start-up check: the bucket is reachable and the credentials may write and delete in it.
        Raises ``StorageError`` naming what is wrong."""
        probe = self._base + ".vsrc-probe"
        try:
            self.client.head_bucket(Bucket=self.bucket)
            self.client.put_object(Bucket=self.bucket, Key=probe, Body=b"ok")
            self.client.delete_object(Bucket=self.bucket, Key=probe)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(explain(self.location, exc)) from exc
        return self.location.describe()

    def put_file(self, key: str, source: Path) -> None:
        target = self._key(key)
        transfer = TransferConfig(multipart_threshold=self.part_size, multipart_chunksize=self.part_size)
        try:
            self.client.upload_file(
                str(source), self.bucket, target, Config=transfer, ExtraArgs=_extra_args(key)
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not store {key}: {exc}") from exc
        except OSError as exc:
            raise StorageError(f"could not read {source} for {key}: {exc}") from exc
        source.unlink()  # consumed, as with local storage

    def upload(self, key: str, source: Path, metadata: dict[str, str] | None = None) -> None:
        """Copy the local file ``source`` to ``key`` (it stays where it is), with user ``metadata``."""
        transfer = TransferConfig(multipart_threshold=self.part_size, multipart_chunksize=self.part_size)
        extra: dict[str, Any] = _extra_args(key)
        if metadata:
            extra["Metadata"] = metadata
        try:
            self.client.upload_file(
                str(source), self.bucket, self._key(key), Config=transfer, ExtraArgs=extra
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not store {key}: {exc}") from exc
        except OSError as exc:
            raise StorageError(f"could not read {source} for {key}: {exc}") from exc

    def delete_keys(self, keys: Iterable[str]) -> None:
        targets = [self._key(k) for k in keys]
        try:
            self._delete_targets(targets)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not delete {len(targets)} object(s): {exc}") from exc

    def _scratch_folder(self, label: str) -> Path:
        if self.scratch is None:
            raise StorageError("this S3 storage has no local scratch folder (open it with open_storage)")
        try:
            return new_scratch(self.scratch, label)
        except OSError as exc:
            raise StorageError(f"could not create a scratch folder in {self.scratch}: {exc}") from exc

    @contextmanager
    def stage(
        self, prefix: str, *, fresh: bool = True, sync_every: float | None = None
    ) -> Iterator[RemoteStage]:
        target = check_key(prefix)
        if fresh:
            self.delete_prefix(target)
        folder = self._scratch_folder(target)
        stage = RemoteStage(folder, target, self)
        auto = AutoSync(stage.sync, sync_every, f"sync-{target}") if sync_every else None
        try:
            yield stage
            if auto is not None:
                auto.stop()
                auto = None
            stage.sync(final=True)
        finally:
            if auto is not None:
                auto.stop()
            shutil.rmtree(folder, ignore_errors=True)

    @contextmanager
    def fetch(self, key: str) -> Iterator[Path]:
        folder = self._scratch_folder("fetch")
        path = folder / (PurePosixPath(check_key(key)).name or "object")
        try:
            try:
                self.client.download_file(self.bucket, self._key(key), str(path))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in _MISSING:
                    raise NotFound(f"no stored object {key}") from exc
                raise StorageError(f"could not read {key}: {exc}") from exc
            except (BotoCoreError, OSError) as exc:
                raise StorageError(f"could not read {key}: {exc}") from exc
            yield path
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @contextmanager
    def readable(self, key: str, *, expires: float = READABLE_SECONDS) -> Iterator[str]:
        if self._head(key) is None:  # a presigned URL is signed offline: check the object is there
            raise NotFound(f"no stored object {key}")
        seconds = max(1, min(int(expires), MAX_PRESIGN_SECONDS))
        try:
            url = self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=seconds
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not sign a read URL for {key}: {exc}") from exc
        yield url

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self._key(key)
        try:
            self.client.put_object(Bucket=self.bucket, Key=target, Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not store {key}: {exc}") from exc

    @contextmanager
    def writer(self, key: str) -> Iterator[MultipartWriter]:
        upload = MultipartWriter(self.client, self.bucket, self._key(key), self.part_size)
        try:
            yield upload
            upload.commit()
        except BaseException:
            upload.abort()
            raise

    def receive(self, key: str, scratch: Path) -> S3Incoming:
        upload = MultipartWriter(self.client, self.bucket, self._key(key), self.part_size)
        return S3Incoming(key, upload, scratch)

    def local_path(self, key: str) -> Path:
        raise StorageError(
            f"local_path({key!r}) is not available on S3 storage ({self.location.describe()}): "
            "this code path still needs local files"
        )

    def local_file(self, key: str) -> Path | None:
        check_key(key)
        return None  # no local copies: readers use size() and read_range()

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return dict(self.client.head_object(Bucket=self.bucket, Key=self._key(key)))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise StorageError(f"could not look up {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not look up {key}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise NotFound(f"no stored object {key}")
        return int(head["ContentLength"])

    def read_range(self, key: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        if start < 0 or (stop is not None and stop < start):
            raise StorageError(f"range {start}-{stop} not satisfiable for {key}")
        if stop == start:
            # An empty range has no HTTP form ("bytes=5-4" is invalid): check the object, send nothing.
            if start > self.size(key):
                raise StorageError(f"range {start}-{stop} not satisfiable for {key}")
            return iter(())
        wanted = f"bytes={start}-" + ("" if stop is None else str(stop - 1))
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key), Range=wanted)["Body"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in _MISSING:
                raise NotFound(f"no stored object {key}") from exc
            if code == "InvalidRange":
                # S3 refuses start == size on a non-empty object and any range on an empty one; the
                # local backend returns no bytes there, so do the same.
                if start == self.size(key):
                    return iter(())
            raise StorageError(f"could not read {key} ({wanted}): {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not read {key}: {exc}") from exc
        return _stream(body, key)

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                yield obj["Key"]

    def list(self, prefix: str) -> list[str]:
        folder = self._key(prefix) + "/"
        try:
            return sorted(k.removeprefix(self._base) for k in self._iter_keys(folder))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not list {prefix}: {exc}") from exc

    def children(self, folder: str) -> dict[str, float]:
        base = self._key(folder) + "/"
        found: dict[str, float] = {}
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base)
            for page in pages:
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(base) :].split("/", 1)[0]
                    if not name:
                        continue  # a "folder/" marker object some tools create
                    when = obj["LastModified"].timestamp()
                    found[name] = max(when, found.get(name, when))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not list {folder}: {exc}") from exc
        return found

    def delete_prefix(self, prefix: str) -> int:
        if not prefix.strip("/"):
            raise StorageError("refusing to delete the storage root")
        target = self._key(prefix)
        try:
            keys = [k for k in self._iter_keys(target) if k == target or k.startswith(target + "/")]
            self._delete_targets(keys)
            self._abort_uploads(target)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not delete {prefix}: {exc}") from exc
        return len(keys)

    def abort_unfinished(self, max_age: float, keep: Callable[[], Collection[str]] | None = None) -> int:
        """Multipart uploads started over ``max_age`` seconds ago whose newest part is as old (a slow
        upload still sending parts is left alone), except those ``keep()`` names (a paused tus
        upload: its parts may be hours old, and it lives until it expires)."""
        cutoff = datetime.now(UTC) - timedelta(seconds=max_age)
        stale: list[tuple[str, str]] = []
        try:
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=self._base
            )
            for page in pages:
                for upload in page.get("Uploads", []):
                    key, upload_id = upload["Key"], upload["UploadId"]
                    if upload["Initiated"] > cutoff or self._last_part(key, upload_id) > cutoff:
                        continue
                    stale.append((key, upload_id))
            # Read after the listing: an upload recorded meanwhile is kept.
            kept = set(keep()) if keep is not None and stale else set()
            for key, upload_id in stale:
                if upload_id not in kept:
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not end unfinished uploads: {exc}") from exc
        return sum(1 for _, upload_id in stale if upload_id not in kept)

    def part_uploads(self) -> S3Parts:
        return S3Parts(self.client, self.bucket, self._key)

    def _last_part(self, key: str, upload_id: str) -> datetime:
        newest = datetime.min.replace(tzinfo=UTC)
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=key, UploadId=upload_id
        )
        for page in pages:
            for part in page.get("Parts", []):
                newest = max(newest, part["LastModified"])
        return newest

    def _delete_targets(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch: list[ObjectIdentifierTypeDef] = [{"Key": k} for k in keys[start : start + 1000]]
            result = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})
            if result.get("Errors"):
                raise StorageError(f"could not delete {batch[0]['Key']}…: {result['Errors'][0]}")

    def _abort_uploads(self, target: str) -> None:
        """Unfinished multipart uploads under the prefix cost storage too: an item's delete ends them."""
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=target
        )
        for page in pages:
            for upload in page.get("Uploads", []):
                key = upload["Key"]
                if key == target or key.startswith(target + "/"):
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=key, UploadId=upload["UploadId"]
                    )


def _extra_args(key: str) -> dict[str, str]:
    """Content types for what players and browsers fetch straight from the bucket (presigned or CDN)."""
    suffix = PurePosixPath(key).suffix.lower()
    kind = CONTENT_TYPES.get(suffix)
    return {"ContentType": kind} if kind else {}


def _stream(body: Any, key: str) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK)
    except (BotoCoreError, ClientError) as exc:
        raise StorageError(f"could not read {key}: {exc}") from exc
    finally:
        body.close()
