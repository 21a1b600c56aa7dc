"""S3's multipart upload API for an upload that spans requests and machines (a tus upload): each part
is sent by whichever API process holds the upload at the time; the parts' ETags live in the database
until the last one arrives (services/tus_s3.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from vsrc.errors import NotFound, StorageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef


class S3Parts:
    def __init__(self, client: S3Client, bucket: str, target: Callable[[str], str]) -> None:
        self._client = client
        self._bucket = bucket
        self._target = target  # key → bucket key (prefix, key checks)

    def begin(self, key: str) -> str:
        try:
            return self._client.create_multipart_upload(Bucket=self._bucket, Key=self._target(key))[
                "UploadId"
            ]
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not start the upload of {key}: {exc}") from exc

    def put_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        try:
            sent = self._client.upload_part(
                Bucket=self._bucket, Key=self._target(key), UploadId=upload_id, PartNumber=number, Body=data
            )
        except ClientError as exc:
            if _code(exc) == "NoSuchUpload":
                raise NotFound(f"the upload of {key} was aborted") from exc
            raise StorageError(f"could not upload part {number} of {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not upload part {number} of {key}: {exc}") from exc
        return sent["ETag"]

    def complete(self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> None:
        listed: list[CompletedPartTypeDef] = [{"PartNumber": n, "ETag": etag} for n, etag in parts]
        try:
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._target(key),
                UploadId=upload_id,
                MultipartUpload={"Parts": listed},
            )
        except ClientError as exc:
            if _code(exc) == "NoSuchUpload":
                raise NotFound(f"the upload of {key} was aborted") from exc
            raise StorageError(f"could not complete the upload of {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not complete the upload of {key}: {exc}") from exc

    def abort(self, key: str, upload_id: str) -> None:
        """End the upload and free its parts; already ended (or completed) is fine."""
        try:
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self._target(key), UploadId=upload_id
            )
        except ClientError as exc:
            if _code(exc) == "NoSuchUpload":
                return
            raise StorageError(
                f"could not abort the upload of {key} (id {upload_id} is left): {exc}"
            ) from exc
        except BotoCoreError as exc:
            raise StorageError(
                f"could not abort the upload of {key} (id {upload_id} is left): {exc}"
            ) from exc


def _code(exc: ClientError) -> str | None:
    return exc.response.get("Error", {}).get("Code")
