"""Player analytics: public ingest (``POST /api/analytics/event|batch``, ``WS /ws/analytics``) and
the per-media aggregates (``GET /api/v1/media/{mediaId}/analytics``, read key)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, WebSocket
from fastapi.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from vsrc.api.deps import AppState, Reader, SessionDep, StateDep
from vsrc.api.schemas.analytics import (
    EVENT_BATCH,
    PLAYER_EVENT,
    IngestResponse,
    MediaAnalyticsResponse,
    ingested,
    ws_reply,
)
from vsrc.api.schemas.analytics import media_analytics as media_analytics_response
from vsrc.errors import PayloadTooLarge, VsrcError
from vsrc.services import analytics, analytics_stats
from vsrc.services.analytics import MAX_BODY_BYTES, AnalyticsIngest, IngestResult

router = APIRouter(tags=["analytics"])

AnyId = Annotated[str, Path(pattern=r"^(vod|live)_[a-f0-9\-]+$")]
# Days from 2000-01-01 to 2100-12-31 (services/analytics_stats.py FIRST_DAY, LAST_DAY).
DAY_SCHEMA = {"pattern": r"^(20\d\d|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"}

# Each endpoint documents its own shape; both also take the other one and the original VSRCPlayer's
# WebSocket envelopes (services/analytics.py payload_items).
EXAMPLE_EVENT = {
    "event": "play",
    "type": "play",
    "sessionId": "6f1c2a44-0d53-4d7e-9a51-2d1f5c0e8b11",
    "mediaId": "vod_a1b2c3d4-e5f6-7890-abcd-ef1234567890",
    "playerType": "vod",
    "currentTime": 0,
    "duration": 120.5,
    "quality": "720p",
    "timestamp": 1795750831786,
}


def _body(schema: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema, "example": example}}}


EVENT_BODY = _body(PLAYER_EVENT, EXAMPLE_EVENT)
BATCH_BODY = _body(EVENT_BATCH, {"events": [EXAMPLE_EVENT]})


def get_ingest(state: StateDep) -> AnalyticsIngest:
    return state.analytics


IngestDep = Annotated[AnalyticsIngest, Depends(get_ingest)]


async def _read_body(request: Request) -> bytes:
    """The body, whatever its Content-Type (beacons send text/plain), refused beyond 64 KiB."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Analytics payloads are limited to {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"Analytics payloads are limited to {MAX_BODY_BYTES} bytes")
    return bytes(body)


async def _ingest_http(request: Request, ingest: AnalyticsIngest) -> IngestResponse:
    items, single = analytics.payload_items(analytics.decode_payload(await _read_body(request)))
    client_ip = request.client.host if request.client else "unknown"
    result = await run_in_threadpool(ingest.ingest, items, client_ip=client_ip, strict=True, single=single)
    return ingested(result)


@router.post("/api/analytics/batch", response_model=IngestResponse, openapi_extra={"requestBody": BATCH_BODY})
async def post_batch(request: Request, ingest: IngestDep) -> IngestResponse:
    """Store a batch ``{"events": [...]}`` (1..100) of player events; public, no API key.

    Any invalid event (type, sessionId, unknown mediaId, numbers) → 400 and nothing is stored;
    over the rate limits → the excess is dropped (429 when nothing was accepted).
    """
    return await _ingest_http(request, ingest)


@router.post("/api/analytics/event", response_model=IngestResponse, openapi_extra={"requestBody": EVENT_BODY})
async def post_event(request: Request, ingest: IngestDep) -> IngestResponse:
    """Store one player event (the bare event object); public, no API key."""
    return await _ingest_http(request, ingest)


@router.websocket("/ws/analytics")
async def analytics_socket(websocket: WebSocket) -> None:
    """Text (or binary) frames ``{"events": [...]}``; each is answered with a small JSON result.

    Invalid events are skipped (listed in the answer), the rest stored; a frame over 64 KiB closes
    the socket with 1009.
    """
    state: AppState = websocket.app.state.vsrc
    ingest = state.analytics
    client_ip = websocket.client.host if websocket.client else "unknown"
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("bytes") or (message.get("text") or "").encode()
            if len(raw) > MAX_BODY_BYTES:
                await websocket.close(code=1009, reason="analytics frame over 64 KiB")
                return
            try:
                items, single = analytics.payload_items(analytics.decode_payload(raw))
                result = await run_in_threadpool(
                    ingest.ingest, items, client_ip=client_ip, strict=False, single=single
                )
                reply = ws_reply(result)
            except VsrcError as exc:
                reply = ws_reply(IngestResult(errors=getattr(exc, "errors", [])), exc.message)
            await websocket.send_text(reply)
    except WebSocketDisconnect:
        return


@router.get("/api/v1/media/{mediaId}/analytics", response_model=MediaAnalyticsResponse)
def get_media_analytics(
    mediaId: AnyId,
    principal: Reader,
    session: SessionDep,
    from_: Annotated[
        date | None,
        Query(alias="from", description="first UTC day (YYYY-MM-DD)", json_schema_extra=DAY_SCHEMA),
    ] = None,
    to: Annotated[
        date | None,
        Query(description="last UTC day, inclusive (default: today)", json_schema_extra=DAY_SCHEMA),
    ] = None,
) -> MediaAnalyticsResponse:
    """Views, unique sessions, estimated watch time, event counts and a per-day series of a VOD or
    live item over a window of UTC days (default: the last 30)."""
    stats = analytics_stats.media_analytics(
        session, account_id=principal.account_id, media_id=mediaId, start=from_, end=to
    )
    return media_analytics_response(stats)
