"""Helpers for the direct-upload tests: create uploads, speak raw tus, cut a PATCH mid-way."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from tests.conftest import Server
from vsrc.db.models import DirectUpload, Media

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {**TUS, "Content-Type": "application/offset+octet-stream"}


def create_upload(server: Server, key: str, **body: Any) -> dict[str, Any]:
    body.setdefault("title", "direct")
    with server.client(key) as client:
        resp = client.post("/api/v1/uploads", json=body)
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()["data"]
    return data


def get_upload(server: Server, key: str, upload_id: str) -> dict[str, Any]:
    with server.client(key) as client:
        resp = client.get(f"/api/v1/uploads/{upload_id}")
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()["data"]
    return data


def tus_create(url: str, length: int, **headers: str) -> httpx.Response:
    return httpx.post(url, headers={**TUS, "Upload-Length": str(length), **headers}, timeout=30)


def tus_offset(url: str) -> int:
    resp = httpx.head(url, headers=TUS, timeout=30)
    assert resp.status_code == 200, resp.status_code
    return int(resp.headers["upload-offset"])


def tus_patch(url: str, offset: int, data: bytes, **headers: str) -> httpx.Response:
    return httpx.patch(
        url, content=data, headers={**OCTETS, "Upload-Offset": str(offset), **headers}, timeout=60
    )


def open_patch(url: str, offset: int, declared: int, first: bytes) -> socket.socket:
    """A PATCH that announces ``declared`` bytes but has sent only ``first`` so far (left open)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    head = (
        f"PATCH {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nTus-Resumable: 1.0.0\r\n"
        f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    sock.sendall(head.encode() + first)
    return sock


def cut_patch(url: str, offset: int, declared: int, first: bytes) -> None:
    """A client that sends part of a PATCH body and then drops the connection."""
    open_patch(url, offset, declared, first).close()


def partial_file(server: Server, upload_id: str) -> Path:
    return server.settings.tmp_dir / "tus" / f"{upload_id}.part"


def upload_row(server: Server, upload_id: str) -> DirectUpload:
    with server.sessions() as session:
        row = session.scalar(select(DirectUpload).where(DirectUpload.public_id == upload_id))
    assert row is not None
    return row


def account_media(server: Server, key: str) -> list[str]:
    with server.client(key) as client:
        media = client.get("/api/v1/media").json()["data"]["media"]
    return [m["mediaId"] for m in media]


def stored_originals(server: Server) -> list[Path]:
    root = server.settings.storage_root / "media"
    return sorted(root.rglob("*")) if root.exists() else []


def media_source(server: Server, media_id: str) -> Path:
    with server.sessions() as session:
        key = session.scalar(select(Media.source_key).where(Media.public_id == media_id))
    assert key is not None
    return server.settings.storage_root / key
