"""Sources the encoder cannot turn into HLS are refused at upload (415 with the reason), before anything
is stored or queued: a 1x1 AVI (it used to get 201, then crash the encoder three times), a picture over
``VSRC_MAX_SOURCE_PIXELS``, a video stream with no decodable frame, frames 10^6 s apart."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FFMPEG, Server, start_server, stop_server


def ffmpeg(out: Path, *args: str) -> Path:
    subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *args, str(out)], check=True, timeout=120
    )
    return out


def stored_files(server: Server) -> list[Path]:
    roots = [server.settings.tmp_dir, server.settings.storage_root / "media"]
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


def upload(server: Server, key: str, path: Path) -> tuple[int, dict]:
    with server.client(key) as client:
        resp = client.post(
            "/api/v1/media/upload", files={"file": (path.name, path.read_bytes())}, data={"title": path.stem}
        )
    return resp.status_code, resp.json()


def media_total(server: Server, key: str) -> int:
    with server.client(key) as client:
        return int(client.get("/api/v1/media").json()["data"]["pagination"]["total"])


@pytest.mark.parametrize(
    ("name", "args", "reason"),
    [
        (
            "one.avi",
            ["-f", "lavfi", "-i", "color=c=red:size=1x1:rate=10:duration=1", "-c:v", "mpeg4"],
            "1x1 pixels; at least 16x16 is required",
        ),
        (
            "nokey.mkv",  # H.264 whose only keyframe was dropped: packets, but nothing decodes
            [
                *("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15:duration=2"),
                *("-c:v", "libx264", "-preset", "ultrafast", "-g", "1000", "-bsf:v", "noise=drop=key"),
            ],
            "No video frame could be decoded",
        ),
        (
            "gap.mkv",  # two frames 10^6 s apart: the container declares ~10^6 s
            [
                *(
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc2=size=160x120:rate=1:duration=2",
                    "-vf",
                    "setpts=N*1000000/TB",
                ),
                *("-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "ultrafast"),
            ],
            "1000000 s apart",
        ),
    ],
)
def test_degenerate_source_is_415_with_the_reason(
    server: Server, tmp_path: Path, name: str, args: list[str], reason: str
) -> None:
    write, _ = server.account_keys()
    source = ffmpeg(tmp_path / name, *args)
    before = stored_files(server)
    status, body = upload(server, write, source)
    assert status == 415, body
    assert body["success"] is False and reason in body["message"], body
    assert media_total(server, write) == 0
    assert stored_files(server) == before


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server accepting at most 320x240 pixels per frame (``VSRC_MAX_SOURCE_PIXELS``)."""
    srv = start_server(tmp_path_factory.mktemp("capped"), max_source_pixels=320 * 240)
    yield srv
    stop_server(srv)


def test_pixel_limit_is_a_setting(capped: Server, tmp_path: Path) -> None:
    write, _ = capped.account_keys()
    lavfi = ["-f", "lavfi", "-i"]
    at_limit = ffmpeg(
        tmp_path / "qvga.mp4", *lavfi, "testsrc2=size=320x240:rate=10:duration=1", "-c:v", "libx264"
    )
    status, body = upload(capped, write, at_limit)
    assert status == 201, body
    over = ffmpeg(
        tmp_path / "over.mp4", *lavfi, "testsrc2=size=322x240:rate=10:duration=1", "-c:v", "libx264"
    )
    status, body = upload(capped, write, over)
    assert status == 415 and "322x240 pixels (77280); at most 76800 pixels" in body["message"], body
    assert media_total(capped, write) == 1
