"""The tus 1.0.0 wire format (https://tus.io/protocols/resumable-upload): headers in, headers out.

Core + creation + termination + expiration. Nothing here touches the database or the disk.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from email.utils import format_datetime

from starlette.datastructures import Headers

from vsrc.errors import PreconditionFailed, UnsupportedMedia, ValidationFailed

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,termination,expiration"
PATCH_CONTENT_TYPE = "application/offset+octet-stream"
ALLOWED_METHODS = "POST, HEAD, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS = (
    "Tus-Resumable, Upload-Length, Upload-Offset, Upload-Metadata, Upload-Defer-Length, "
    "Upload-Concat, Content-Type, X-HTTP-Method-Override, X-Requested-With"
)
EXPOSED_HEADERS = (
    "Upload-Offset, Upload-Length, Upload-Expires, Upload-Metadata, Location, "
    "Tus-Version, Tus-Resumable, Tus-Max-Size, Tus-Extension"
)
MAX_METADATA = 4096  # Upload-Metadata carries a name and a type, not a document
PREFLIGHT_MAX_AGE = "86400"


def check_version(headers: Headers) -> None:
    """Every request but OPTIONS names the protocol version it speaks."""
    if headers.get("tus-resumable") != TUS_VERSION:
        raise PreconditionFailed(f"Send 'Tus-Resumable: {TUS_VERSION}'; it is the only version served here")


def _non_negative(headers: Headers, name: str) -> int:
    raw = headers.get(name)
    # ASCII digits only: str.isdigit() also accepts "²" (Latin-1 header bytes), which int() refuses.
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise ValidationFailed.field(name, f"{name} must be a non-negative integer")
    return int(raw)


def upload_length(headers: Headers) -> int:
    if "upload-defer-length" in headers:
        raise ValidationFailed.field("Upload-Defer-Length", "deferred lengths are not supported")
    return _non_negative(headers, "Upload-Length")


def upload_offset(headers: Headers) -> int:
    return _non_negative(headers, "Upload-Offset")


def content_length(headers: Headers) -> int | None:
    raw = headers.get("content-length")
    return int(raw) if raw is not None and raw.isascii() and raw.isdigit() else None


def check_patch_content_type(headers: Headers) -> None:
    if headers.get("content-type", "").split(";")[0].strip().lower() != PATCH_CONTENT_TYPE:
        raise UnsupportedMedia(f"Content-Type must be {PATCH_CONTENT_TYPE}")


def metadata(headers: Headers) -> dict[str, str | None]:
    """``Upload-Metadata: key base64(value), key2`` → ``{"key": "value", "key2": None}``."""
    raw = headers.get("upload-metadata", "")
    if len(raw) > MAX_METADATA:
        raise ValidationFailed.field("Upload-Metadata", f"Upload-Metadata is over {MAX_METADATA} characters")
    pairs: dict[str, str | None] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, _, value = item.partition(" ")
        try:
            pairs[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8") if value else None
        except ValueError as exc:  # binascii.Error, UnicodeDecodeError, or non-ASCII input
            raise ValidationFailed.field("Upload-Metadata", f"value of {key!r} is not base64 UTF-8") from exc
    return pairs


def filename(meta: dict[str, str | None]) -> str | None:
    """tus-js-client and tuspy send ``filename``; Uppy sends ``name`` (and ``filename``)."""
    return meta.get("filename") or meta.get("name") or None


def expires(value: datetime) -> str:
    """``Upload-Expires`` is an RFC 7231 date; ``value`` is naive UTC."""
    return format_datetime(value.replace(tzinfo=UTC), usegmt=True)


def method_override(headers: Headers) -> str | None:
    """``X-HTTP-Method-Override`` lets clients behind PATCH-hostile proxies tunnel PATCH/DELETE in a POST."""
    value = headers.get("x-http-method-override", "").upper()
    return value if value in ("PATCH", "DELETE", "HEAD") else None


def origin_allowed(cors_origin: str | None, request_origin: str | None) -> str | None:
    """The ``Access-Control-Allow-Origin`` value for this request, or ``None`` (no CORS).

    As with Mux's ``cors_origin``: a browser on another origin may use the URL only when the upload
    was created for that origin (or for ``*``; the URL itself is the credential, no cookies ride)."""
    if request_origin is None or cors_origin is None:
        return None
    if cors_origin == "*":
        return "*"
    return request_origin if request_origin.rstrip("/") == cors_origin else None


def cors_headers(cors_origin: str | None, request_origin: str | None) -> dict[str, str]:
    allowed = origin_allowed(cors_origin, request_origin)
    headers = {"Vary": "Origin"} if cors_origin not in (None, "*") else {}
    if allowed is not None:
        headers |= {"Access-Control-Allow-Origin": allowed, "Access-Control-Expose-Headers": EXPOSED_HEADERS}
    return headers


def is_preflight(method: str, headers: Headers) -> bool:
    return method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers


def preflight_headers(allowed_origin: str) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": allowed_origin,
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
    }


def capability_headers(max_size: int) -> dict[str, str]:
    return {"Tus-Version": TUS_VERSION, "Tus-Extension": EXTENSIONS, "Tus-Max-Size": str(max_size)}
