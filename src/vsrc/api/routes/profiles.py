"""``/api/v1/encoding-profiles``: list the usable profiles, create one."""

from __future__ import annotations

from fastapi import APIRouter

from vsrc.api.deps import Reader, SessionDep, Writer
from vsrc.api.schemas.common import WRITE_ERRORS
from vsrc.api.schemas.profiles import ProfileCreate, ProfileListResponse, ProfileResponse, profile_out
from vsrc.services import profiles

router = APIRouter(prefix="/api/v1/encoding-profiles", tags=["encoding profiles"], responses=WRITE_ERRORS)


@router.get("", response_model=ProfileListResponse)
def list_profiles(principal: Reader, session: SessionDep) -> ProfileListResponse:
    """The built-in profiles and the account's own."""
    rows = profiles.list_profiles(session, account_id=principal.account_id)
    return ProfileListResponse(data=[profile_out(r) for r in rows])


@router.post("", status_code=201, response_model=ProfileResponse)
def create_profile(body: ProfileCreate, principal: Writer, session: SessionDep) -> ProfileResponse:
    """A custom ladder; use its id as ``encodingProfileId`` on upload."""
    row = profiles.create_profile(
        session,
        account_id=principal.account_id,
        name=body.name,
        rungs=[profiles.RungInput(r.height, r.videoBitrate, r.name) for r in body.rungs],
        audio_bitrate=body.audioBitrate,
        preset=body.preset,
        segment_seconds=body.segmentSeconds,
    )
    return ProfileResponse(data=profile_out(row))
