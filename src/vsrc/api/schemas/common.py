"""The error envelope, and the error answers each route documents in OpenAPI."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class FieldErrorOut(BaseModel):
    field: str
    message: str


class ErrorResponse(BaseModel):
    success: bool = False
    message: str
    errors: list[FieldErrorOut] | None = None


def _error(description: str, message: str, field: str | None = None) -> dict[str, Any]:
    example: dict[str, Any] = {"success": False, "message": message}
    if field:
        example["errors"] = [{"field": field, "message": f"{field} is invalid"}]
    return {
        "model": ErrorResponse,
        "description": description,
        "content": {"application/json": {"example": example}},
    }


Responses = dict[int | str, dict[str, Any]]

BAD_REQUEST: Responses = {400: _error("Validation failed", "Validation failed", "title")}
UNAUTHORIZED: Responses = {401: _error("Missing, invalid or revoked API key", "Invalid API key")}
FORBIDDEN: Responses = {
    403: _error("Read key on a write endpoint", "This API key does not have write permission")
}
NOT_FOUND: Responses = {404: _error("Unknown, or another account's", "Media not found")}
RATE_LIMITED: Responses = {
    429: _error("Rate limit exceeded (see Retry-After)", "Too many requests, please try again later")
}
TOO_LARGE: Responses = {
    413: _error("Upload over the size limit", "File is larger than the 10737418240 byte limit")
}
CONFLICT: Responses = {409: _error("Does not fit the resource's current state", "Upload is completed")}
GONE: Responses = {410: _error("Expired", "This upload URL has expired; create a new upload")}
PRECONDITION: Responses = {412: _error("Missing or unsupported Tus-Resumable", "Send 'Tus-Resumable: 1.0.0'")}
LOCKED: Responses = {
    423: _error("Another request is writing this upload (retry)", "Another request is writing")
}
UNSUPPORTED: Responses = {415: _error("Not a decodable video of an accepted format", "Unsupported media")}

READ_ERRORS: Responses = {**BAD_REQUEST, **UNAUTHORIZED, **NOT_FOUND, **RATE_LIMITED}
WRITE_ERRORS: Responses = {**READ_ERRORS, **FORBIDDEN}
