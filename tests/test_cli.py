"""The `vsrc` command line as operators use it: a real subprocess with a real data dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.helpers import eventually

pytestmark = pytest.mark.slow


def vsrc(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "VSRC_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "vsrc", *args], capture_output=True, text=True, env=full_env, timeout=120
    )


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    assert vsrc(tmp_path, "migrate").returncode == 0
    created = vsrc(
        tmp_path, "keys", "create", "--name", "ci", "--permission", "write", "--account", "ops@example.com"
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("vsrc_") and len(key) > 40 and " " not in key
    listed = vsrc(tmp_path, "keys", "list")
    assert "ops@example.com" in listed.stdout and key[:17] in listed.stdout and key not in listed.stdout
    revoked = vsrc(tmp_path, "keys", "revoke", key[:17])
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    bad = vsrc(tmp_path, "keys", "create", "--name", "x", "--permission", "admin")
    assert bad.returncode == 2 and "permission" in bad.stderr


def test_invalid_settings_give_a_clear_message(tmp_path: Path) -> None:
    result = vsrc(tmp_path, "migrate", env={"VSRC_HTTP_PORT": "http", "VSRC_PUBLIC_URL": "ftp://x"})
    assert result.returncode == 2
    assert "VSRC_HTTP_PORT" in result.stderr and "VSRC_PUBLIC_URL" in result.stderr


def test_a_rate_limit_over_a_zero_window_is_refused_at_start(tmp_path: Path) -> None:
    # `limits` reads "10/0 minutes" as 10 per minute; the operator meant something else.
    for name in ("VSRC_RATE_LIMIT", "VSRC_ANALYTICS_IP_LIMIT", "VSRC_LOGIN_RATE_LIMIT"):
        result = vsrc(tmp_path, "migrate", env={name: "10/0 minutes"})
        assert result.returncode == 2, (name, result.stderr)
        assert name in result.stderr and "window" in result.stderr
    assert vsrc(tmp_path, "migrate", env={"VSRC_RATE_LIMIT": "10/2 minutes"}).returncode == 0


def test_doctor_reports_missing_database_then_ok(tmp_path: Path) -> None:
    before = vsrc(tmp_path, "doctor")
    assert before.returncode == 1 and "database" in before.stdout and "FAIL" in before.stdout
    vsrc(tmp_path, "migrate")
    after = vsrc(tmp_path, "doctor")
    assert after.returncode == 0, after.stdout
    assert "FAIL" not in after.stdout


def test_api_process_serves_health(tmp_path: Path) -> None:
    vsrc(tmp_path, "migrate")
    port = free_port()
    env = {
        **os.environ,
        "VSRC_DATA_DIR": str(tmp_path),
        "VSRC_HTTP_PORT": str(port),
        "VSRC_HTTP_HOST": "127.0.0.1",
    }
    proc = subprocess.Popen([sys.executable, "-m", "vsrc", "api"], env=env, stderr=subprocess.PIPE)
    try:

        def health() -> httpx.Response | None:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            except httpx.TransportError:
                return None

        resp = eventually(health, timeout=180, interval=0.1, what="the api process serves /health")
        assert resp.json()["reasons"] == ["no worker is running: encodes wait"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_default_rtmp_server_follows_settings(tmp_path: Path) -> None:
    vsrc(tmp_path, "migrate")
    vsrc(
        tmp_path,
        "migrate",
        env={"VSRC_RTMP_PUBLIC_URL": "rtmp://east.example.com/live", "VSRC_RTMP_REGION": "us-east"},
    )
    listed = vsrc(tmp_path, "servers", "list").stdout
    assert "rtmp://east.example.com/live" in listed and "us-east" in listed
    added = vsrc(
        tmp_path,
        "servers",
        "add",
        "--name",
        "eu",
        "--region",
        "eu-west",
        "--rtmp-url",
        "rtmp://eu.example/live",
    )
    assert added.returncode == 0 and added.stdout.strip() == "2"
    assert "eu-west" in vsrc(tmp_path, "servers", "list").stdout
    assert (
        vsrc(tmp_path, "servers", "add", "--name", "x", "--region", "r", "--rtmp-url", "http://x").returncode
        == 2
    )


def test_service_urls_are_printed_without_their_passwords(tmp_path: Path) -> None:
    import shutil
    import socket

    from tests.helpers import eventually
    from vsrc.redact import redact_url, scrub_passwords

    password, port = "hunter2-redis-pw", free_port()
    argv = [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    argv += ["--requirepass", password, "--save", "", "--appendonly", "no"]
    redis = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    try:

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False

        eventually(listening, timeout=30, what="redis-server listening")
        env = {"VSRC_REDIS_URL": f"redis://:{password}@127.0.0.1:{port}/0"}
        migrated = vsrc(tmp_path, "migrate", env=env)
        doctor = vsrc(tmp_path, "doctor", env=env)
    finally:
        redis.terminate()
        redis.wait(timeout=10)
    assert migrated.returncode == 0 and "database ready" in migrated.stdout
    assert f"redis://:***@127.0.0.1:{port}/0 (0 pending)" in doctor.stdout, doctor.stdout
    for result in (migrated, doctor):
        assert password not in result.stdout + result.stderr
    pg = "postgresql+psycopg://vsrc:s3cr%40t@db.example:5432/vsrc?sslmode=require"
    assert redact_url(pg) == "postgresql+psycopg://vsrc:***@db.example:5432/vsrc?sslmode=require"
    assert scrub_passwords("failed: s3cr@t / s3cr%40t", pg, None) == "failed: *** / ***"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redact_url(f"sqlite:///{tmp_path}/vsrc.db") == f"sqlite:///{tmp_path}/vsrc.db"
