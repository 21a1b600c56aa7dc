"""``vsrc serve`` owns its children: a killed one is restarted, one that keeps dying makes serve give up
loudly, and SIGTERM stops them all before serve exits (no orphans)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, make_clip
from tests.helpers import eventually
from vsrc.supervisor import Supervisor

pytestmark = pytest.mark.slow


def _children(pid: int) -> dict[str, int]:
    """Live children of ``pid`` by their vsrc command (``worker``, ``ingest``, ``api``)."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z" and b"vsrc" in argv:
            found[argv[argv.index(b"vsrc") + 1].decode()] = int(entry.name)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _vsrc(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "vsrc", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def test_serve_restarts_a_killed_worker_and_leaves_no_orphans(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "VSRC_DATA_DIR": str(tmp_path / "data"),
        "VSRC_HTTP_HOST": "127.0.0.1",
        "VSRC_HTTP_PORT": str(port),
        "VSRC_PUBLIC_URL": url,
        "VSRC_RTMP_HOST": "127.0.0.1",
        "VSRC_RTMP_PORT": str(free_port()),
        "VSRC_HEARTBEAT_SECONDS": "0.5",
    }
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen([sys.executable, "-m", "vsrc", "serve"], env=env, stdout=log, stderr=log)
    seen: set[int] = set()
    try:

        def healthy() -> dict[str, int] | None:
            try:
                ok = httpx.get(f"{url}/health", timeout=5).json()["status"] == "ok"
            except httpx.TransportError:
                return None
            children = _children(serve.pid)
            return children if ok and set(children) == {"worker", "ingest", "api"} else None

        first = eventually(healthy, timeout=120, what="serve up with worker, ingest and api")
        seen.update(first.values())

        os.kill(first["worker"], signal.SIGKILL)
        restarted = eventually(
            lambda: (c := _children(serve.pid)).get("worker") not in (None, first["worker"]) and c,
            timeout=60,
            what="a new worker",
        )
        seen.update(restarted.values())

        key = _vsrc(env, "keys", "create", "--name", "t", "--permission", "write")
        clip = make_clip(tmp_path / "clip.mp4")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
            resp = client.post(
                "/api/v1/media/upload", files={"file": ("clip.mp4", clip.read_bytes())}, data={"title": "t"}
            )
            assert resp.status_code == 201, resp.text
            media_id = resp.json()["data"]["mediaId"]
            eventually(
                lambda: (
                    client.get(f"/api/v1/media/{media_id}").json()["data"]["encodingStatus"] == "completed"
                ),
                timeout=180,
                what="the restarted worker encodes the upload",
            )

        seen.update(_children(serve.pid).values())
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=120) == 0
        assert [pid for pid in seen if _alive(pid)] == []
    finally:
        if serve.poll() is None:
            serve.kill()
        for pid in seen:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_child_that_keeps_dying_makes_the_supervisor_give_up_loudly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    crash = [sys.executable, "-c", "raise SystemExit(3)"]
    steady = [sys.executable, "-c", "import time; time.sleep(600)"]
    supervisor = Supervisor([("steady", steady), ("crashy", crash)], max_failures=3, backoff=0.01)
    with caplog.at_level(logging.ERROR, logger="vsrc.supervisor"):
        assert supervisor.run() == 1
    crashy, steady_child = supervisor.children[1], supervisor.children[0]
    assert len(crashy.pids) == 3  # started, restarted twice, then given up
    assert "crashy died 3 times in a row (last exit status 3): giving up" in caplog.text
    assert steady_child.proc is not None and steady_child.proc.returncode == -signal.SIGTERM
