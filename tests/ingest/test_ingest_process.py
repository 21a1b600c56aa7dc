"""A real ``vsrc ingest`` process under hostile clients: its memory (from /proc) and its log."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.helpers import eventually
from vsrc.ingest.rtmp import messages as msg
from vsrc.ingest.rtmp.chunks import ChunkWriter

pytestmark = pytest.mark.slow

MiB = 1024 * 1024


@dataclass
class IngestProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def status(self, field: str) -> int:
        """A memory figure of the process from /proc (kB), e.g. ``VmHWM``, the peak resident size."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no {field} in /proc/{self.proc.pid}/status")

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        c1 = bytes(8) + os.urandom(1528)
        sock.sendall(b"\x03" + c1)
        got = b""
        while len(got) < 1 + 2 * 1536:
            data = sock.recv(65536)
            assert data, "the ingest closed the connection during the handshake"
            got += data
        sock.sendall(got[1:1537])
        return sock


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def ingest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestProcess]:
    data = tmp_path_factory.mktemp("ingest")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VSRC_")},
        "VSRC_DATA_DIR": str(data),
        "VSRC_RTMP_HOST": "127.0.0.1",
        "VSRC_RTMP_PORT": str(port),
        # Far away: only the message-size cap can close the oversized connections below.
        "VSRC_RTMP_PUBLISH_TIMEOUT": "600",
        "VSRC_RTMP_MAX_PENDING_PER_IP": "100",
    }
    subprocess.run([sys.executable, "-m", "vsrc", "migrate"], env=env, check=True, capture_output=True)
    log = data / "ingest.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "vsrc", "ingest"], env=env, stdout=out, stderr=out)
    try:
        eventually(lambda: _listening(port) or proc.poll() is not None, timeout=60, what="ingest listening")
        assert proc.poll() is None, log.read_text()
        yield IngestProcess(proc, port, log)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    """True when the ingest closes the connection (EOF or reset) within ``timeout`` seconds."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def test_oversized_messages_before_publish_cost_no_memory(ingest: IngestProcess) -> None:
    connections, declared = 20, 8 * MiB
    peak_before = ingest.status("VmHWM")
    socks = []
    for _ in range(connections):
        sock = ingest.connect()
        # One chunk can carry the whole message, so a naive reader buffers all of it.
        set_chunk = bytes.fromhex("02 000000 000004 01 00000000") + (16 * MiB).to_bytes(4, "big")
        head = bytes.fromhex("03 000000") + declared.to_bytes(3, "big") + bytes.fromhex("14 00000000")
        try:
            sock.sendall(set_chunk + head + bytes(declared - 1))  # one byte short: never complete
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-send: what a capped server does
        socks.append(sock)
    try:
        # Closed by the cap: the publish deadline (600 s) and idle timeout (30 s) are far away.
        eventually(lambda: all(closed_by_peer(s, timeout=0.05) for s in socks), timeout=20)
    finally:
        for sock in socks:
            sock.close()
    grown = ingest.status("VmHWM") - peak_before
    assert grown < 16 * MiB, f"peak resident memory grew by {grown / MiB:.1f} MiB"
    log = ingest.log.read_text()
    assert log.count("exceeds the 16384 cap") == connections


def test_stream_keys_in_the_app_path_are_not_logged(ingest: IngestProcess) -> None:
    key = "1_" + "9f3c" * 8  # the shape of a real key (this one is unknown to the database)
    sock = ingest.connect()
    out = ChunkWriter()
    tc_url = f"rtmp://127.0.0.1:{ingest.port}/live/{key}"
    sock.sendall(out.write(msg.command_message("connect", 1, {"app": f"live/{key}", "tcUrl": tc_url})))
    sock.sendall(out.write(msg.command_message("createStream", 2, None)))
    sock.sendall(
        out.write(msg.command_message("publish", 3, None, f"{key}?token={key}", "live", stream_id=1))
    )
    assert closed_by_peer(sock, timeout=30)  # refused: the app is not "live"
    sock.close()
    log = eventually(lambda: "rejected" in (text := ingest.log.read_text()) and text, timeout=10)
    assert "connect app='live/…'" in log
    assert key not in log and key[:12] not in log
