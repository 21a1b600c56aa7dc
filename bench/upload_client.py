"""Streaming multipart upload clients: curl (preferred) and an httpx generator body (fallback)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class UploadResult:
    status: int
    seconds: float
    body: dict[str, Any]

    @property
    def media_id(self) -> str | None:
        data = self.body.get("data")
        return data.get("mediaId") if isinstance(data, dict) else None


def _parse(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {"raw": raw[:500]}
    return value if isinstance(value, dict) else {"raw": value}


def upload_curl(url: str, key: str, path: Path, *, title: str = "bench upload") -> UploadResult:
    """``curl -F file=@path`` to ``url``: streams from disk, default ``Expect: 100-continue``."""
    curl = shutil.which("curl")
    assert curl is not None
    start = time.perf_counter()
    done = subprocess.run(
        [
            curl,
            "-sS",
            "-w",
            "\n%{http_code}",
            "-H",
            f"Authorization: Bearer {key}",
            "-F",
            f"file=@{path};type=video/mp4",
            "-F",
            f"title={title}",
            "-F",
            "tags=bench",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    seconds = time.perf_counter() - start
    body, _, code = done.stdout.rpartition("\n")
    return UploadResult(int(code) if code.isdigit() else 0, seconds, _parse(body))


def _framing(path: Path, boundary: str, fields: dict[str, str]) -> tuple[bytes, bytes]:
    """The multipart bytes before and after the file's content."""
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    )
    return head.encode(), f"\r\n--{boundary}--\r\n".encode()


def _body(path: Path, head: bytes, tail: bytes) -> Iterator[bytes]:
    yield head
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk
    yield tail


def upload_httpx(url: str, key: str, path: Path, *, title: str = "bench upload") -> UploadResult:
    """httpx with a generator body: 1 MiB chunks read from disk, never the whole file in memory."""
    boundary = uuid.uuid4().hex
    head, tail = _framing(path, boundary, {"title": title, "tags": "bench"})
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + path.stat().st_size + len(tail)),
    }
    start = time.perf_counter()
    with httpx.Client(timeout=600) as client:
        response = client.post(url, content=_body(path, head, tail), headers=headers)
    seconds = time.perf_counter() - start
    return UploadResult(response.status_code, seconds, _parse(response.text))


Client = Callable[[str, str, Path], UploadResult]
CLIENTS: dict[str, Client] = {"curl": upload_curl, "httpx": upload_httpx}
