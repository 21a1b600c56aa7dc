"""``GET /health``: liveness of the API, the database, the disk, the workers and the ingest servers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from vsrc.api.deps import SessionDep, StateDep
from vsrc.services import health as health_service

router = APIRouter(tags=["health"])


@router.get("/health")
def health(session: SessionDep, state: StateDep) -> dict[str, Any]:
    """``{"status": "ok"}`` or ``{"status": "degraded", "reasons": [...]}``, with details; 200 either
    way (the API itself answers)."""
    return health_service.report(session, state.settings)
