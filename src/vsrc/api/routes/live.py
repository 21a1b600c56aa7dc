"""``/api/v1/live``: live streams and their RTMP credentials; ``/api/v1/rtmp-servers``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from vsrc.api.deps import Reader, SessionDep, StateDep, Writer
from vsrc.api.schemas.common import WRITE_ERRORS
from vsrc.api.schemas.live import (
    LiveCreate,
    LiveCreateResponse,
    LiveDeleteResponse,
    LiveList,
    LiveListResponse,
    LivePagination,
    LiveResponse,
    RtmpServerListResponse,
    live_created,
    live_out,
    server_out,
)
from vsrc.db.session import transaction
from vsrc.services import live, playback_policy
from vsrc.services.media import MAX_PAGE, purge_files

router = APIRouter(prefix="/api/v1/live", tags=["live"], responses=WRITE_ERRORS)
servers_router = APIRouter(prefix="/api/v1/rtmp-servers", tags=["live"], responses=WRITE_ERRORS)

LiveId = Annotated[
    str, Path(pattern=r"^live_[a-f0-9\-]+$", examples=["live_a1b2c3d4-e5f6-7890-abcd-ef1234567890"])
]


@router.post("", status_code=201, response_model=LiveCreateResponse)
def create_live(
    principal: Writer,
    session: SessionDep,
    state: StateDep,
    body: LiveCreate = Body(
        examples=[
            {
                "title": "My Live Event",
                "description": "Live broadcast from our event",
                "region": "us-east",
                "serverId": 1,
                "playbackPolicy": "public",
            }
        ]
    ),
) -> LiveCreateResponse:
    """Create a live stream; the stream key is valid for 24 hours."""
    stream = live.create_live(
        session,
        account_id=principal.account_id,
        title=body.title or "",
        description=body.description,
        region=body.region,
        server_id=body.serverId,
        storage=state.storage,
        playback_policy=body.playbackPolicy or playback_policy.PUBLIC,
    )
    return LiveCreateResponse(data=live_created(stream))


@router.get("", response_model=LiveListResponse)
def list_live(
    principal: Reader,
    session: SessionDep,
    state: StateDep,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> LiveListResponse:
    """The account's live streams, newest first."""
    result = live.list_live(session, account_id=principal.account_id, page=page, limit=limit)
    pages = (result.total + limit - 1) // limit
    return LiveListResponse(
        data=LiveList(
            live=[live_out(s, state.settings.public_url, with_key=principal.can_write) for s in result.items],
            pagination=LivePagination(page=page, limit=limit, total=result.total, totalPages=pages),
        )
    )


@router.get("/{mediaId}", response_model=LiveResponse)
def get_live(mediaId: LiveId, principal: Reader, session: SessionDep, state: StateDep) -> LiveResponse:
    """Status (idle/live/ended), key expiry, current session and recordings of one live stream."""
    stream = live.get_live(session, account_id=principal.account_id, public_id=mediaId)
    recordings = live.recordings_of(session, stream=stream)
    return LiveResponse(
        data=live_out(stream, state.settings.public_url, recordings, with_key=principal.can_write)
    )


@router.post("/{mediaId}/reset-key", response_model=LiveCreateResponse)
def reset_key(mediaId: LiveId, principal: Writer, session: SessionDep) -> LiveCreateResponse:
    """Issue a new stream key (valid 24 h); the old key stops working."""
    stream = live.reset_key(session, account_id=principal.account_id, public_id=mediaId)
    return LiveCreateResponse(message="Stream key reset successfully", data=live_created(stream))


@router.delete("/{mediaId}", response_model=LiveDeleteResponse)
def delete_live(mediaId: LiveId, principal: Writer, state: StateDep) -> LiveDeleteResponse:
    """Delete the live stream and its live files; its recordings stay as VODs."""
    with transaction(state.sessions) as session:
        live.delete_live(session, account_id=principal.account_id, public_id=mediaId)
    purge_files(state.storage, mediaId)
    return LiveDeleteResponse(data={"mediaId": mediaId})


@servers_router.get("", response_model=RtmpServerListResponse)
def list_servers(principal: Reader, session: SessionDep) -> RtmpServerListResponse:
    """RTMP ingest servers: region, URL, status, last heartbeat and current load."""
    return RtmpServerListResponse(data=[server_out(s, n) for s, n in live.list_servers(session)])
