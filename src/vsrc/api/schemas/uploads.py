"""Direct-upload shapes of the public API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vsrc.db.models import DirectUpload
from vsrc.timeutil import iso_ms

EXAMPLE_UPLOAD_ID = "upl_3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
EXAMPLE_URL = "http://localhost:8000/tus/Yx3k9Qm2Lr8TbVn4Wc7Hs1Pd6Fg0Jz5Ae_uKoNiXtM"
EXAMPLE_CREATE: dict[str, Any] = {
    "title": "Customer testimonial",
    "description": "Uploaded from the browser",
    "tags": "customers,2024",
    "playbackPolicy": "public",
    "corsOrigin": "https://app.example.com",
}


class DirectUploadCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The document states what services/media.py validate_fields enforces (it checks again).
    title: str = Field(
        description="1..255 characters",
        examples=["My Video"],
        min_length=1,
        max_length=255,
        pattern=r"^[^\x00]*\S[^\x00]*$",
    )
    description: str | None = Field(
        default=None, description="at most 1000 characters", max_length=1000, pattern=r"^[^\x00]*$"
    )
    tags: str | list[str] | None = Field(
        default=None, description="comma list or list, at most 500 characters"
    )
    encodingProfileId: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="an encoding profile of the account"
    )
    playbackPolicy: Literal["public", "signed"] | None = Field(
        default=None, description="public (default) or signed"
    )
    corsOrigin: str | None = Field(
        default=None,
        max_length=255,
        # services/direct_uploads.py's origin rule.
        pattern=r"^(\*|https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(:\d{1,5})?)$",
        description="the browser origin that will upload (https://app.example.com), or *; "
        "without it only same-origin pages and non-browser clients can use the URL",
    )


class DirectUploadCreated(BaseModel):
    uploadId: str
    uploadUrl: str = Field(description="tus 1.0.0 endpoint; needs no API key; one upload only")
    status: str
    expiresAt: str


class DirectUploadCreateResponse(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "success": True,
                    "message": "Upload URL created",
                    "data": {
                        "uploadId": EXAMPLE_UPLOAD_ID,
                        "uploadUrl": EXAMPLE_URL,
                        "status": "waiting",
                        "expiresAt": "2024-01-16T10:30:00.000Z",
                    },
                }
            ]
        }
    }
    success: bool = True
    message: str = "Upload URL created"
    data: DirectUploadCreated


class DirectUploadOut(BaseModel):
    uploadId: str
    status: str = Field(description="waiting | uploading | completed | failed | expired | cancelled")
    offset: int = Field(description="bytes received")
    length: int | None = Field(description="declared size in bytes, once the tus upload was created")
    mediaId: str | None = Field(description="the media item, once completed")
    errorMessage: str | None
    expiresAt: str
    createdAt: str


EXAMPLE_UPLOAD: dict[str, Any] = {
    "uploadId": EXAMPLE_UPLOAD_ID,
    "status": "completed",
    "offset": 52428800,
    "length": 52428800,
    "mediaId": "vod_a1b2c3d4-e5f6-7890-abcd-ef1234567890",
    "errorMessage": None,
    "expiresAt": "2024-01-16T10:30:00.000Z",
    "createdAt": "2024-01-15T10:30:00.000Z",
}


class DirectUploadResponse(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"success": True, "data": EXAMPLE_UPLOAD}]}}
    success: bool = True
    data: DirectUploadOut


class DirectUploadCancelResponse(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "success": True,
                    "message": "Upload cancelled",
                    "data": {
                        **EXAMPLE_UPLOAD,
                        "status": "cancelled",
                        "offset": 1048576,
                        "mediaId": None,
                    },
                }
            ]
        }
    }
    success: bool = True
    message: str = "Upload cancelled"
    data: DirectUploadOut


def upload_out(upload: DirectUpload, *, status: str, offset: int) -> DirectUploadOut:
    return DirectUploadOut(
        uploadId=upload.public_id,
        status=status,
        offset=offset,
        length=upload.length,
        mediaId=upload.media_public_id,
        errorMessage=upload.error_message,
        expiresAt=iso_ms(upload.expires_at),
        createdAt=iso_ms(upload.created_at),
    )
