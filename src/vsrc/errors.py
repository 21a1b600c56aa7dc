"""The VSRC exception tree. ``vsrc.api.errors`` is the one place that maps it to HTTP.

VsrcError
├── ConfigError            invalid settings at start-up
├── AuthError              missing, unknown or revoked API key          (401)
├── PermissionDenied       key lacks the permission for the call        (403)
│   └── TokenRefused       signed playback without a valid token; says why (403)
├── NotFound               unknown id, or another account's             (404)
├── Conflict               the request does not fit the resource's state (409)
├── Gone                   expired, will not come back                   (410)
├── PreconditionFailed     unsupported protocol version (tus)            (412)
├── Locked                 another request is writing the resource       (423)
├── ValidationFailed       bad input; carries field errors              (400)
├── PayloadTooLarge        upload over VSRC_MAX_UPLOAD_BYTES            (413)
├── UnsupportedMedia       not a decodable video of an accepted format  (415)
├── RateLimited            too many requests                            (429)
├── StorageError           the storage backend failed                   (500)
└── InvalidSignature       a webhook delivery's signature does not verify (receiver side)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class VsrcError(Exception):
    """Base of every error VSRC raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(VsrcError):
    pass


class AuthError(VsrcError):
    pass


class PermissionDenied(VsrcError):
    pass


class TokenRefused(PermissionDenied):
    """A signed item was requested without a valid playback token; ``reason`` says what was wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Playback denied: {reason}")
        self.errors = [FieldError("token", reason)]


class NotFound(VsrcError):
    pass


class Conflict(VsrcError):
    pass


class Gone(VsrcError):
    pass


class PreconditionFailed(VsrcError):
    pass


class Locked(VsrcError):
    pass


class ValidationFailed(VsrcError):
    def __init__(self, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []

    @classmethod
    def field(cls, field: str, message: str) -> ValidationFailed:
        return cls("Validation failed", [FieldError(field, message)])


class PayloadTooLarge(VsrcError):
    pass


class UnsupportedMedia(VsrcError):
    pass


class RateLimited(VsrcError):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PublishDenied(VsrcError):
    """A stream key may not publish now; ``message`` says why (shown to the publisher)."""


class StorageError(VsrcError):
    pass


class InsufficientStorage(StorageError):
    """No space left to store an upload or its outputs."""


class InvalidSignature(VsrcError):
    """A webhook body does not match its ``VSRC-Signature`` (raised by ``verify_signature``)."""
