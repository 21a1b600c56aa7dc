"""``/api/v1/live``: create a live stream and hand out RTMP credentials."""

from __future__ import annotations

from fastapi import APIRouter, Body

from vsrc.api.deps import SessionDep, Writer
from vsrc.api.schemas.live import LiveCreate, LiveCreateResponse, live_created
from vsrc.services import live

router = APIRouter(prefix="/api/v1/live", tags=["live"])


@router.post("", status_code=201, response_model=LiveCreateResponse)
def create_live(
    principal: Writer,
    session: SessionDep,
    body: LiveCreate = Body(
        examples=[
            {
                "title": "My Live Event",
                "description": "Live broadcast from our event",
                "region": "us-east",
                "serverId": 1,
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
    )
    return LiveCreateResponse(data=live_created(stream))
