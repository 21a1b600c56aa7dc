"""``/api/v1/uploads``: direct (browser-safe, resumable) uploads over tus; the bytes go to ``/tus/…``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path

from vsrc.api.deps import Reader, SessionDep, StateDep, Writer
from vsrc.api.schemas.common import CONFLICT, FORBIDDEN, GONE, WRITE_ERRORS
from vsrc.api.schemas.uploads import (
    EXAMPLE_CREATE,
    DirectUploadCancelResponse,
    DirectUploadCreate,
    DirectUploadCreated,
    DirectUploadCreateResponse,
    DirectUploadResponse,
    upload_out,
)
from vsrc.services import direct_uploads
from vsrc.timeutil import iso_ms

router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"], responses=WRITE_ERRORS)

UploadId = Annotated[
    str, Path(pattern=r"^upl_[a-f0-9\-]+$", examples=["upl_3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"])
]


@router.post("", status_code=201, response_model=DirectUploadCreateResponse, responses=FORBIDDEN)
def create_upload(
    principal: Writer,
    session: SessionDep,
    state: StateDep,
    body: Annotated[DirectUploadCreate, Body(examples=[EXAMPLE_CREATE])],
) -> DirectUploadCreateResponse:
    """A one-time tus 1.0.0 URL a browser (tus-js-client, Uppy) or a server (tuspy) uploads one video
    to, with no API key. When its last byte arrives the file becomes a media item exactly like a
    multipart upload. The URL expires (default 24 h)."""
    request = direct_uploads.validate_request(
        title=body.title,
        description=body.description,
        tags=body.tags,
        encoding_profile_id=body.encodingProfileId,
        playback_policy=body.playbackPolicy,
        cors_origin=body.corsOrigin,
    )
    upload, token = direct_uploads.create_upload(
        session,
        account_id=principal.account_id,
        request=request,
        ttl_seconds=state.settings.upload_url_ttl_seconds,
    )
    return DirectUploadCreateResponse(
        data=DirectUploadCreated(
            uploadId=upload.public_id,
            uploadUrl=f"{state.settings.public_url}/tus/{token}",
            status=upload.status,
            expiresAt=iso_ms(upload.expires_at),
        )
    )


@router.get("/{uploadId}", response_model=DirectUploadResponse)
def get_upload(
    uploadId: UploadId, principal: Reader, session: SessionDep, state: StateDep
) -> DirectUploadResponse:
    """Where a direct upload stands: status, bytes received, and the media item once completed."""
    upload = direct_uploads.get_upload(session, account_id=principal.account_id, public_id=uploadId)
    offset = direct_uploads.current_offset(state.tus, upload)
    return DirectUploadResponse(
        data=upload_out(upload, status=direct_uploads.shown_status(upload), offset=offset)
    )


@router.delete(
    "/{uploadId}", response_model=DirectUploadCancelResponse, responses={**FORBIDDEN, **CONFLICT, **GONE}
)
def cancel_upload(uploadId: UploadId, principal: Writer, state: StateDep) -> DirectUploadCancelResponse:
    """Cancel a waiting or uploading upload: its URL stops working and the partial file is removed."""
    upload = direct_uploads.cancel_for_account(
        state.sessions, state.tus, account_id=principal.account_id, public_id=uploadId
    )
    return DirectUploadCancelResponse(
        data=upload_out(upload, status="cancelled", offset=upload.received_bytes)
    )
