"""Media shapes of the public API, and their builders from model rows."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from vsrc.db.models import Media, Tag
from vsrc.timeutil import iso_ms

EXAMPLE_ID = "vod_a1b2c3d4-e5f6-7890-abcd-ef1234567890"
EXAMPLE_MEDIA: dict[str, Any] = {
    "mediaId": EXAMPLE_ID,
    "title": "My Video",
    "description": "Video description",
    "fileSize": 52428800,
    "mimeType": "video/mp4",
    "encodingStatus": "completed",
    "uploadStatus": "completed",
    "tags": [{"id": 1, "name": "conference", "color": "#6c757d"}],
    "createdAt": "2024-01-15T10:30:00.000Z",
    "updatedAt": "2024-01-15T10:30:00.000Z",
    "encodingProgress": 100,
    "duration": 120.5,
    "playbackUrl": f"http://localhost:8000/hls/{EXAMPLE_ID}/master.m3u8",
    "thumbnailUrl": f"http://localhost:8000/thumbnails/{EXAMPLE_ID}/poster.jpg",
    "errorMessage": None,
    "playbackPolicy": "public",
}


class TagOut(BaseModel):
    id: int
    name: str
    color: str


class MediaSummary(BaseModel):
    mediaId: str
    title: str
    description: str | None
    fileSize: int
    mimeType: str
    encodingStatus: str
    uploadStatus: str
    tags: list[TagOut]
    createdAt: str
    updatedAt: str
    encodingProgress: int
    duration: float | None
    playbackUrl: str | None
    thumbnailUrl: str | None
    errorMessage: str | None
    playbackPolicy: str


class MediaDetail(MediaSummary):
    originalWidth: int | None
    originalHeight: int | None


class UploadedMedia(BaseModel):
    mediaId: str
    title: str
    description: str | None
    fileSize: int
    encodingStatus: str
    tags: list[str]
    uploadedAt: str


class Pagination(BaseModel):
    page: int
    limit: int
    total: int
    totalPages: int


class MediaPage(BaseModel):
    media: list[MediaSummary]
    pagination: Pagination


class UploadResponse(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "success": True,
                    "message": "Video uploaded successfully",
                    "data": {
                        "mediaId": EXAMPLE_ID,
                        "title": "My Awesome Video",
                        "description": "This is a great video",
                        "fileSize": 52428800,
                        "encodingStatus": "pending",
                        "tags": ["conference", "2024", "keynote"],
                        "uploadedAt": "2024-01-15T10:30:00.000Z",
                    },
                }
            ]
        }
    }
    success: bool = True
    message: str = "Video uploaded successfully"
    data: UploadedMedia


class MediaResponse(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {"success": True, "data": {**EXAMPLE_MEDIA, "originalWidth": 1920, "originalHeight": 1080}}
            ]
        }
    }
    success: bool = True
    data: MediaDetail


class MediaPageResponse(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "success": True,
                    "data": {
                        "media": [EXAMPLE_MEDIA],
                        "pagination": {"page": 1, "limit": 20, "total": 100, "totalPages": 5},
                    },
                }
            ]
        }
    }
    success: bool = True
    data: MediaPage


# The upload's field rules as services/media.py validate_changes applies them to an edit.
TITLE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": r"^[^\x00]*\S[^\x00]*$",
}
EDIT_DESCRIPTION_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "string", "maxLength": 1000, "pattern": r"^[^\x00]*$"}, {"type": "null"}]
}
# A comma list (each tag at most 255 characters once trimmed), or a list of tags without commas.
EDIT_TAGS_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "string",
            "maxLength": 500,
            "pattern": r"^\s*[^,\x00]{0,255}\s*(,\s*[^,\x00]{0,255}\s*)*$",
        },
        {"type": "array", "items": {"type": "string", "maxLength": 255, "pattern": r"^[^,\x00]*$"}},
    ],
    "description": "comma string or list; replaces the tags (at most 500 characters in all)",
}


def _edit_schema(schema: dict[str, Any]) -> None:
    # A field left out is unchanged; ``null`` is no default the server would accept for it.
    schema["minProperties"] = 1
    for prop in schema["properties"].values():
        prop.pop("default", None)


class MediaUpdate(BaseModel):
    """``PATCH /api/v1/media/{mediaId}``: any of these; fields not sent stay as they are."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_edit_schema)

    title: Annotated[str | None, WithJsonSchema(TITLE_SCHEMA)] = Field(
        default=None, examples=["My Edited Video"]
    )
    description: Annotated[str | None, WithJsonSchema(EDIT_DESCRIPTION_SCHEMA)] = Field(
        default=None, examples=["A better description"]
    )
    tags: Annotated[str | list[str] | None, WithJsonSchema(EDIT_TAGS_SCHEMA)] = Field(
        default=None, examples=["conference,2024"]
    )
    playbackPolicy: Annotated[
        str | None,
        WithJsonSchema(
            {
                "type": "string",
                "enum": ["public", "signed"],
                "description": "'signed': playback then needs a token from a signing key",
            }
        ),
    ] = Field(default=None, examples=["signed"])


class DeletedMedia(BaseModel):
    mediaId: str


class DeleteResponse(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {"success": True, "message": "Media deleted successfully", "data": {"mediaId": EXAMPLE_ID}}
            ]
        }
    }
    success: bool = True
    message: str = "Media deleted successfully"
    data: DeletedMedia


def tag_out(tag: Tag) -> TagOut:
    return TagOut(id=tag.id, name=tag.name, color=tag.color)


def _urls(media: Media, public_url: str) -> tuple[str | None, str | None]:
    """Playback while encoding too (EVENT playlists play from the first segment on); the poster
    exists once the encode completed."""
    status = media.encoding_status
    playback = (
        f"{public_url}/hls/{media.public_id}/master.m3u8" if status in ("processing", "completed") else None
    )
    poster = f"{public_url}/thumbnails/{media.public_id}/poster.jpg" if status == "completed" else None
    return playback, poster


def media_summary(media: Media, public_url: str) -> MediaSummary:
    playback, thumbnail = _urls(media, public_url)
    return MediaSummary(
        mediaId=media.public_id,
        title=media.title,
        description=media.description,
        fileSize=media.file_size,
        mimeType=media.mime_type,
        encodingStatus=media.encoding_status,
        uploadStatus=media.upload_status,
        tags=[tag_out(t) for t in media.tags],
        createdAt=iso_ms(media.created_at),
        updatedAt=iso_ms(media.updated_at),
        encodingProgress=media.encoding_progress,
        duration=media.duration,
        playbackUrl=playback,
        thumbnailUrl=thumbnail,
        errorMessage=media.error_message,
        playbackPolicy=media.playback_policy,
    )


def media_detail(media: Media, public_url: str) -> MediaDetail:
    return MediaDetail(
        **media_summary(media, public_url).model_dump(),
        originalWidth=media.original_width,
        originalHeight=media.original_height,
    )


def uploaded_media(media: Media) -> UploadedMedia:
    return UploadedMedia(
        mediaId=media.public_id,
        title=media.title,
        description=media.description,
        fileSize=media.file_size,
        encodingStatus=media.encoding_status,
        tags=[t.name for t in media.tags],
        uploadedAt=iso_ms(media.created_at),
    )
