"""Readable verdicts for S3 start-up failures: which of endpoint, credentials or bucket is wrong."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)

from vsrc.storage.url import S3Location

_REFUSED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"}
_NO_BUCKET = {"404", "NoSuchBucket"}


def explain(location: S3Location, exc: BotoCoreError | ClientError) -> str:
    where = location.endpoint or "AWS"
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return f"cannot reach the S3 endpoint {where}: {exc}"
    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(or another source of the AWS credential chain)"
        )
    if isinstance(exc, NoRegionError):
        return "no S3 region: add ?region=REGION to VSRC_STORAGE_URL or set AWS_REGION"
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _REFUSED:
            return (
                f"S3 at {where} refused the credentials for bucket {location.bucket!r} ({code}): "
                "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket's policy"
            )
        if code in _NO_BUCKET:
            return f"S3 bucket {location.bucket!r} does not exist at {where}"
        return f"S3 at {where} answered {code} for bucket {location.bucket!r}: {exc}"
    return f"S3 at {where} failed: {exc.__class__.__name__}: {exc}"
