"""The delivery benchmark's bare reference: FastAPI returning the same bytes VSRC answers with, read
once at start-up from the folder in ``BENCH_DELIVERY_FILES`` (no database, no storage, no checks)."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Response

FILES = Path(os.environ.get("BENCH_DELIVERY_FILES", "."))
app = FastAPI()


def _read(name: str) -> bytes:
    path = FILES / name
    return path.read_bytes() if path.exists() else b""


RESOLVE, MASTER, VARIANT = _read("resolve.json"), _read("master.m3u8"), _read("index.m3u8")
PLAYLIST = "application/vnd.apple.mpegurl"


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/resolve")
async def resolve() -> Response:
    return Response(RESOLVE, media_type="application/json")


@app.get("/master.m3u8")
async def master() -> Response:
    return Response(MASTER, media_type=PLAYLIST)


@app.get("/index.m3u8")
async def variant() -> Response:
    return Response(VARIANT, media_type=PLAYLIST)
