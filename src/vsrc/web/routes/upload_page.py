"""``/upload``: several files at once through Uppy + tus. The page asks ``POST /upload/create`` for one
direct upload per file (the same service as ``POST /api/v1/uploads``) and sends the bytes to its
one-time tus URL; ``GET /upload/{id}/status`` tells when the file became a media item."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from vsrc.api.deps import SessionDep, StateDep
from vsrc.errors import ValidationFailed
from vsrc.services import direct_uploads, profiles
from vsrc.web.auth import EditorDep, ViewerDep, mark_dashboard
from vsrc.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_dashboard)])


class NewUpload(BaseModel):
    title: str = Field(default="", max_length=2000)
    description: str = Field(default="", max_length=5000)
    tags: str = Field(default="", max_length=2000)
    encodingProfileId: str = Field(default="", max_length=20)
    playbackPolicy: str = Field(default="public", max_length=20)


@router.get("/upload")
def upload_page(request: Request, viewer: ViewerDep, session: SessionDep, state: StateDep) -> Response:
    context = {
        "profiles": profiles.list_profiles(session, account_id=viewer.account_id),
        "max_bytes": state.settings.max_upload_bytes,
    }
    return render(request, "upload.html", context)


@router.post("/upload/create")
def create_upload(body: NewUpload, viewer: EditorDep, session: SessionDep, state: StateDep) -> Response:
    try:
        request = direct_uploads.validate_request(
            title=body.title,
            description=body.description or None,
            tags=body.tags or None,
            encoding_profile_id=body.encodingProfileId or None,
            playback_policy=body.playbackPolicy or None,
            cors_origin=None,  # the page is on this origin
        )
        upload, token = direct_uploads.create_upload(
            session,
            account_id=viewer.account_id,
            request=request,
            ttl_seconds=state.settings.upload_url_ttl_seconds,
        )
    except ValidationFailed as exc:
        # Answered as JSON: the page's script shows the message next to the file.
        message = "; ".join(e.message for e in exc.errors) or exc.message
        return JSONResponse({"success": False, "message": message}, status_code=400)
    return JSONResponse(
        {"uploadId": upload.public_id, "uploadUrl": f"{state.settings.public_url}/tus/{token}"},
        status_code=201,
    )


@router.get("/upload/{upload_id}/status")
def upload_status(upload_id: str, viewer: ViewerDep, session: SessionDep) -> dict[str, Any]:
    upload = direct_uploads.get_upload(session, account_id=viewer.account_id, public_id=upload_id)
    return {
        "uploadId": upload.public_id,
        "status": direct_uploads.shown_status(upload),
        "mediaId": upload.media_public_id,
        "errorMessage": upload.error_message,
    }
