"""A killed upload leaves its ``.part`` temp file behind: the API sweeps such files at start and
periodically, by age (a live upload keeps touching its file)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, start_server, stop_server
from tests.helpers import eventually

pytestmark = pytest.mark.slow  # real `vsrc api` processes

HOUR = 3600


def _api(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VSRC_DATA_DIR": str(data_dir),
        "VSRC_HTTP_HOST": "127.0.0.1",
        "VSRC_HTTP_PORT": str(port),
    }
    proc = subprocess.Popen([sys.executable, "-m", "vsrc", "api"], env=env, stderr=subprocess.DEVNULL)

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    eventually(up, timeout=180, what="vsrc api answers /health")
    return proc


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_part_of_a_killed_api_is_swept_at_the_next_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert (
        subprocess.run(
            [sys.executable, "-m", "vsrc", "migrate"],
            env={**os.environ, "VSRC_DATA_DIR": str(data)},
            capture_output=True,
        ).returncode
        == 0
    )

    port = free_port()
    api = _api(data, port)
    key = (
        subprocess.run(
            [sys.executable, "-m", "vsrc", "keys", "create", "--name", "t", "--permission", "write"],
            env={**os.environ, "VSRC_DATA_DIR": str(data)},
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    boundary = "sweepboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nt\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode() + b"\0" * 200_000
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            (
                "POST /api/v1/media/upload HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {key}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {len(head) + 10_000_000}\r\n\r\n"
            ).encode()
            + head
        )
        tmp = data / "tmp"
        part = eventually(lambda: next(tmp.glob("upload-*.part"), None), what="the upload's .part exists")
        eventually(lambda: part.stat().st_size > 0, what="the server wrote some of the file")
        api.send_signal(signal.SIGKILL)  # the request's cleanup never runs
        api.wait(timeout=30)
    assert part.exists()
    _age(part, 2 * HOUR)  # nobody has written to it for two hours
    fresh = tmp / "upload-0123456789abcdef.part"  # an upload of another API process, still arriving
    fresh.write_bytes(b"x")
    other = tmp / "keep.bin"
    other.write_bytes(b"x")
    _age(other, 2 * HOUR)

    api = _api(data, port)
    try:
        assert not part.exists()
        assert fresh.exists() and other.exists()
    finally:
        api.terminate()
        api.wait(timeout=30)


def test_abandoned_parts_are_swept_periodically(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", upload_part_max_age=4)  # swept every second
    try:
        tmp = server.settings.tmp_dir
        tmp.mkdir(parents=True, exist_ok=True)
        part = tmp / "upload-feedfacefeedface.part"
        part.write_bytes(b"x" * 1000)
        _age(part, 60)
        eventually(lambda: not part.exists(), timeout=30, what="the old .part is swept")
    finally:
        stop_server(server)
