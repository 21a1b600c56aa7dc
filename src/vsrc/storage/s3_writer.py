"""A streaming S3 write with bounded memory: one part buffered while one is sent (S3 multipart upload)."""

from __future__ import annotations

import logging
import secrets
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError

from vsrc.errors import StorageError
from vsrc.storage.local import INCOMING_PREFIX

log = logging.getLogger("vsrc.storage.s3")

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef


class MultipartWriter:
    """Buffers at most ``part_size`` bytes while the previous part is sent by a helper thread (so
    receiving and sending overlap; memory stays at two parts); a small object becomes one PUT, a
    larger one a multipart upload that ``abort`` removes entirely (no object, no incomplete upload
    left in the bucket)."""

    def __init__(self, client: S3Client, bucket: str, key: str, part_size: int) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._part_size = part_size
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._sender: ThreadPoolExecutor | None = None
        self._in_flight: Future[None] | None = None

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= self._part_size:
            part = bytes(self._buffer[: self._part_size])
            del self._buffer[: self._part_size]
            self._wait()  # one part in flight at most
            self._start()
            if self._sender is None:
                self._sender = ThreadPoolExecutor(1, thread_name_prefix="vsrc-s3-part")
            self._in_flight = self._sender.submit(self._send, len(self._parts) + 1, part)

    def _start(self) -> None:
        if self._upload_id is not None:
            return
        try:
            created = self._client.create_multipart_upload(Bucket=self._bucket, Key=self._key)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not start the upload of {self._key}: {exc}") from exc
        self._upload_id = created["UploadId"]

    def _send(self, number: int, part: bytes) -> None:
        assert self._upload_id is not None
        try:
            sent = self._client.upload_part(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=part
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not upload part {number} of {self._key}: {exc}") from exc
        self._parts.append({"ETag": sent["ETag"], "PartNumber": number})

    def _wait(self) -> None:
        """Until the part in flight is sent; raises its ``StorageError``."""
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            in_flight.result()

    def _stop_sender(self) -> None:
        if self._sender is not None:
            self._sender.shutdown(wait=True)
            self._sender = None

    def commit(self) -> None:
        try:
            self._wait()
            self._stop_sender()
            if self._upload_id is None:
                self._client.put_object(Bucket=self._bucket, Key=self._key, Body=bytes(self._buffer))
                return
            if self._buffer:
                self._send(len(self._parts) + 1, bytes(self._buffer))
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not store {self._key}: {exc}") from exc
        finally:
            self._buffer.clear()

    def abort(self) -> None:
        self._buffer.clear()
        try:
            self._wait()
        except StorageError as exc:  # the part in flight failed: it is aborted with the rest anyway
            log.info("while aborting %s: %s", self._key, exc)
        finally:
            self._stop_sender()
        if self._upload_id is None:
            return
        upload_id, self._upload_id = self._upload_id, None
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=upload_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                return  # already aborted (the item was deleted meanwhile): nothing is left
            raise StorageError(
                f"could not abort the upload of {self._key} (upload id {upload_id} is left): {exc}"
            ) from exc
        except BotoCoreError as exc:
            # Not swallowed: the caller's own error is already propagating; this one says what is left.
            raise StorageError(
                f"could not abort the upload of {self._key} (upload id {upload_id} is left): {exc}"
            ) from exc


class S3Incoming:
    """An upload streamed to S3 as it arrives (``MultipartWriter``) and teed to a local copy in
    ``scratch``: the probe needs the whole file, and reading it back from the bucket would transfer it
    twice. The copy is removed on ``commit`` and ``abort``; an abort also ends the multipart upload."""

    def __init__(self, key: str, upload: MultipartWriter, scratch: Path) -> None:
        self.key = key
        self._upload: MultipartWriter | None = upload
        try:
            scratch.mkdir(parents=True, exist_ok=True)
            self._copy = scratch / f"{INCOMING_PREFIX}{secrets.token_hex(8)}.part"
            self._handle: BinaryIO = self._copy.open("wb")
        except OSError as exc:
            raise StorageError(f"could not open a local copy of {key} in {scratch}: {exc}") from exc

    @property
    def copy(self) -> Path:
        if not self._handle.closed:
            self._handle.flush()  # the probe reads every byte written so far
        return self._copy

    def write(self, data: bytes) -> None:
        assert self._upload is not None, "write after commit or abort"
        self._handle.write(data)
        self._upload.write(data)

    def commit(self) -> None:
        assert self._upload is not None, "commit after commit or abort"
        self._handle.flush()
        upload, self._upload = self._upload, None
        try:
            upload.commit()
        except BaseException:
            upload.abort()
            raise
        finally:
            self._drop_copy()

    def abort(self) -> None:
        if self._upload is not None:
            upload, self._upload = self._upload, None
            try:
                upload.abort()
            finally:
                self._drop_copy()

    def _drop_copy(self) -> None:
        self._handle.close()
        self._copy.unlink(missing_ok=True)
