"""``VSRC_STORAGE_URL`` parsed: ``file:///path`` or ``s3://BUCKET[/PREFIX]?endpoint=…&region=…``.

Pure parsing, no I/O: every error names what is wrong, so that a bad setting stops the process at
start-up with a readable message (docs/architecture.md, "Storage").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

# AWS's rules for bucket names (MinIO and Ceph follow them): 3-63 characters, lowercase letters,
# digits, dots and hyphens, starting and ending with a letter or digit.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION = re.compile(r"^[a-z0-9-]{1,64}$")
_S3_PARAMS = ("endpoint", "region")


@dataclass(frozen=True)
class FileLocation:
    root: Path

    def describe(self) -> str:
        return str(self.root)


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # "" or "a/b" (no leading or trailing slash)
    endpoint: str | None  # None: the AWS endpoint of ``region``
    region: str | None  # None: the AWS chain's region (AWS_REGION, ~/.aws/config)

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return f"{where} at {self.endpoint}" if self.endpoint else where


StorageLocation = FileLocation | S3Location


def parse_storage_url(url: str) -> StorageLocation:
    """Parse one storage URL; raises ``ValueError`` saying which part is wrong."""
    if url.startswith("file://"):
        path = url.removeprefix("file://")
        if not path:
            raise ValueError("file:// needs a path, e.g. file:///var/lib/vsrc/storage")
        return FileLocation(Path(path).expanduser().resolve())
    if url.startswith("s3://"):
        return _parse_s3(url)
    if "://" not in url:
        raise ValueError(f"not a storage URL: {url!r}; use file:///PATH or s3://BUCKET[/PREFIX]")
    scheme = url.split("://", 1)[0]
    raise ValueError(f"unsupported storage URL scheme {scheme!r}: use file:///PATH or s3://BUCKET[/PREFIX]")


def _parse_s3(url: str) -> S3Location:
    parts = urlsplit(url)
    bucket = parts.netloc
    if "@" in bucket:
        raise ValueError("s3:// URLs carry no credentials: use the AWS chain (AWS_ACCESS_KEY_ID, …)")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise ValueError(
            f"invalid S3 bucket name {bucket!r}: 3-63 lowercase letters, digits, dots or hyphens"
        )
    prefix = parts.path.strip("/")
    if prefix and any(seg in ("", ".", "..") for seg in prefix.split("/")):
        raise ValueError(f"invalid S3 prefix {parts.path!r}: empty, '.' or '..' segments")
    if parts.fragment:
        raise ValueError("s3:// URLs take no #fragment")
    params: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name not in _S3_PARAMS:
            raise ValueError(f"unknown s3:// URL parameter {name!r} (known: endpoint, region)")
        if name in params:
            raise ValueError(f"s3:// URL parameter {name!r} given twice")
        params[name] = value
    endpoint = params.get("endpoint")
    if endpoint is not None:
        ep = urlsplit(endpoint)
        if ep.scheme not in ("http", "https") or not ep.hostname:
            raise ValueError(f"S3 endpoint {endpoint!r} must look like http://HOST:PORT or https://HOST")
        try:
            ep.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise ValueError(f"S3 endpoint {endpoint!r} has an invalid port") from exc
        if ep.path.strip("/") or ep.query:
            raise ValueError(f"S3 endpoint {endpoint!r} must not carry a path or query")
        endpoint = f"{ep.scheme}://{ep.netloc}"
    region = params.get("region")
    if region is not None and not _REGION.match(region):
        raise ValueError(f"invalid S3 region {region!r} (e.g. us-east-1)")
    return S3Location(bucket=bucket, prefix=prefix, endpoint=endpoint, region=region)
