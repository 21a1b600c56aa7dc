"""``GET /health``: liveness of the API, the database, the disk, the workers and the ingest servers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from vsrc.api.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/health", response_model=dict[str, Any])
async def health(state: StateDep) -> Response:
    """``{"status": "ok"}`` or ``{"status": "degraded", "reasons": [...]}``, with details; 200 either
    way (the API itself answers). Computed at most once per ``VSRC_HEALTH_CACHE_SECONDS`` per process."""
    return Response(await state.health.body(), media_type="application/json")
