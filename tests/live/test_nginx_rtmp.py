"""A real nginx-rtmp in front of VSRC: its on_publish/on_publish_done hooks call our API, and it
pushes accepted streams to our ingest, which packages live HLS and records (docs/architecture.md)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.helpers import eventually
from tests.live.conftest import LiveStack, publish
from tests.live.test_live_pipeline import live_dir, status_of

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (Path(NGINX).exists() and MODULE.exists()),
        reason="nginx + libnginx-mod-rtmp not installed (.ci/run installs them)",
    ),
]


def nginx_conf(prefix: Path, rtmp_port: int, api: str, ingest_port: int, hook_query: str = "") -> str:
    return f"""
load_module {MODULE};
daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 64; }}
rtmp {{
    server {{
        listen 127.0.0.1:{rtmp_port};
        application live {{
            live on;
            record off;
            on_publish {api}/hooks/rtmp/on_publish{hook_query};
            on_publish_done {api}/hooks/rtmp/on_publish_done{hook_query};
            push rtmp://127.0.0.1:{ingest_port}/live;
        }}
    }}
}}
"""


@contextmanager
def running_nginx(live_stack: LiveStack, prefix: Path, hook_query: str = "") -> Iterator[int]:
    """A real nginx-rtmp in front of ``live_stack``; yields its RTMP port."""
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_conf(prefix, port, live_stack.server.url, live_stack.rtmp_port, hook_query))
    proc = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf)], stderr=subprocess.PIPE)
    try:
        eventually(lambda: _listening(port), timeout=10)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def nginx(live_stack: LiveStack, tmp_path: Path) -> Iterator[int]:
    with running_nginx(live_stack, tmp_path) as port:
        yield port


def _listening(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def test_nginx_rtmp_fronting_vsrc(live_stack: LiveStack, nginx: int) -> None:
    write, _ = live_stack.server.account_keys()
    live = live_stack.create_live(write, title="Via nginx")
    bad = publish(f"rtmp://127.0.0.1:{nginx}/live/1_{'0' * 32}", seconds=2)
    assert bad.wait(timeout=30) != 0
    good = publish(f"rtmp://127.0.0.1:{nginx}/live/{live['streamKey']}", seconds=6)
    folder = live_dir(live_stack, live["mediaId"])
    eventually(lambda: (folder / "source" / "seg_00000.ts").exists(), timeout=40)
    assert status_of(live_stack, write, live["mediaId"])["status"] == "live"
    # The key never appears in public URLs: HLS lives under the live_… id.
    assert live["streamKey"] not in str(folder)
    assert good.wait(timeout=60) == 0
    ended = eventually(
        lambda: (s := status_of(live_stack, write, live["mediaId"]))["status"] == "ended" and s, timeout=40
    )
    assert ended["status"] == "ended"


def test_nginx_rtmp_sends_the_hook_secret(
    live_stack: LiveStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documented set-up with VSRC_HOOK_SECRET: nginx-rtmp keeps ``?secret=`` on its hook calls."""
    monkeypatch.setattr(live_stack.server.settings, "hook_secret", "nginx-hook-s3cret")
    write, _ = live_stack.server.account_keys()
    live = live_stack.create_live(write, title="Secret hooks")
    with running_nginx(live_stack, tmp_path / "wrong", "?secret=not-it") as port:
        assert publish(f"rtmp://127.0.0.1:{port}/live/{live['streamKey']}", seconds=2).wait(timeout=30) != 0
    assert status_of(live_stack, write, live["mediaId"])["status"] == "idle"
    with running_nginx(live_stack, tmp_path / "right", "?secret=nginx-hook-s3cret") as port:
        good = publish(f"rtmp://127.0.0.1:{port}/live/{live['streamKey']}", seconds=3)
        assert good.wait(timeout=60) == 0
        eventually(lambda: status_of(live_stack, write, live["mediaId"])["status"] == "ended", timeout=40)
