"""The API benchmark's baseline: a bare FastAPI app with constant-JSON endpoints, no database."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()
CONSTANT = {"success": True, "data": {"mediaId": "vod_a1b2c3d4-e5f6-7890-abcd-ef1234567890", "title": "x"}}


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/const")
async def const() -> dict[str, object]:
    """The baseline: framework + server + client cost of one request."""
    return CONSTANT


@app.get("/const-sync")
def const_sync() -> dict[str, object]:
    """Same through the thread pool, as VSRC's sync (``def``) routes run."""
    return CONSTANT
