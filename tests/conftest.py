"""Shared fixtures: a real VSRC app on a real uvicorn server, accounts with keys, generated clips."""

from __future__ import annotations

import functools
import itertools
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import imageio_ffmpeg
import pytest
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import build_once, eventually
from vsrc.api.app import create_app
from vsrc.api.server import protocol_for
from vsrc.config import Settings
from vsrc.db.migrate import upgrade
from vsrc.db.session import make_engine, make_session_factory, transaction
from vsrc.runtime import Runtime
from vsrc.services.defaults import ensure_defaults
from vsrc.services.keys import create_key

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()

# The S3 protocol server fixtures (s3_endpoint, bucket, storage_url) for every test.
pytest_plugins = ["tests.s3"]


def free_port() -> int:
    """A loopback port free right now (racy under parallel tests: prefer ``bound_socket``)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bound_socket(port: int = 0) -> socket.socket:
    """A loopback TCP socket already bound (port 0: the kernel picks), so no parallel test can take its
    port between choosing it and serving on it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def make_clip(
    path: Path,
    *,
    seconds: float = 1,
    size: str = "160x120",
    rate: int = 15,
    audio: bool = True,
    extra: list[str] | None = None,
) -> Path:
    """A small real clip: ffmpeg testsrc2 (+ sine audio)."""
    cmd = [
        FFMPEG,
        "-y",
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size}:rate={rate}:duration={seconds}",
    ]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        cmd += ["-c:a", "aac", "-shortest"]
    cmd += [*(extra or []), str(path)]
    subprocess.run(cmd, check=True, timeout=60)
    return path


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    def build(root: Path) -> dict[str, Path]:
        return {
            "mp4": make_clip(root / "clip.mp4"),
            "mkv": make_clip(root / "clip.mkv"),
            "noaudio": make_clip(root / "noaudio.mp4", audio=False),
        }

    return build_once(tmp_path_factory, "clips", build)


@functools.cache
def sessions_for(url: str) -> sessionmaker[Session]:
    return make_session_factory(make_engine(url))


@dataclass
class Server:
    url: str
    settings: Settings
    thread: threading.Thread
    server: uvicorn.Server
    runtime: Runtime

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Sessions on the server's database (one engine per database for the whole test run)."""
        return sessions_for(self.settings.sqlalchemy_url)

    def key(self, permission: str = "write", account: str | None = None) -> str:
        with transaction(self.sessions) as session:
            created = create_key(
                session,
                name="test",
                permission=permission,
                account_email=account or f"{uuid.uuid4().hex[:10]}@test",
            )
        return created.plaintext

    def account_keys(self) -> tuple[str, str]:
        """A fresh account with a (write, read) key pair."""
        email = f"{uuid.uuid4().hex[:10]}@test"
        return self.key("write", email), self.key("read", email)


# Set TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:55432/postgres) to run every
# test server on its own fresh PostgreSQL database instead of SQLite (`make test-postgres`).
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL")


# Set TEST_REDIS_URL (e.g. redis://127.0.0.1:56379) to put the queue and rate limits of every test server
# on Redis: each server gets its own flushed Redis database, so queues of parallel servers never mix.
REDIS_URL = os.environ.get("TEST_REDIS_URL")
_redis_db = itertools.count()


def fresh_redis_database(url: str) -> str:
    """The next Redis database of this test process. Parallel (xdist) workers each own a disjoint slice
    of the server's databases (`make test-fleet` starts Redis with 256), so none flushes another's."""
    import redis

    total = int(redis.Redis.from_url(url).config_get("databases")["databases"])
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    per_worker = total // workers
    if per_worker < 2:
        raise RuntimeError(f"Redis at {url} has {total} databases: too few for {workers} test workers")
    # Database 0 is left alone; each worker cycles through its own slice.
    db = worker * per_worker + 1 + next(_redis_db) % (per_worker - 1)
    db_url = f"{url.rstrip('/')}/{db}"
    redis.Redis.from_url(db_url).flushdb()
    return db_url


def fresh_postgres_database(admin_url: str) -> str:
    from sqlalchemy import create_engine, text

    name = f"vsrc_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def start_server(
    data_dir: Path,
    rate_limit_override: str = "100000/15 minutes",
    port: int | None = None,
    sock: socket.socket | None = None,
    **overrides: object,
) -> Server:
    """Migrate ``data_dir`` and serve VSRC (rate limit lifted unless overridden) on ``sock``, else on
    ``port``, else on a port the kernel picks. When the app must know its own URL, pass a
    ``bound_socket()`` and ``public_url`` built from its port."""
    if PG_ADMIN_URL and "database_url" not in overrides:
        overrides["database_url"] = fresh_postgres_database(PG_ADMIN_URL)
    if REDIS_URL and "redis_url" not in overrides:
        overrides["redis_url"] = fresh_redis_database(REDIS_URL)
    settings = Settings(data_dir=data_dir, rate_limit=rate_limit_override, **overrides)  # type: ignore[arg-type]
    upgrade(settings.sqlalchemy_url)
    with transaction(sessions_for(settings.sqlalchemy_url)) as session:
        ensure_defaults(session, rtmp_public_url=settings.rtmp_public_url)
    sock = sock or bound_socket(port or 0)
    port = int(sock.getsockname()[1])
    runtime = Runtime(settings)
    config = uvicorn.Config(
        create_app(runtime),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        http=protocol_for(settings),
        proxy_headers=False,  # the app trusts X-Forwarded-For itself (VSRC_FORWARDED_ALLOW_IPS)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    eventually(lambda: server.started, timeout=30, interval=0.02, what="uvicorn started")
    return Server(f"http://127.0.0.1:{port}", settings, thread, server, runtime)


def stop_server(server: Server) -> None:
    server.server.should_exit = True
    server.thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("data"))
    yield srv
    stop_server(srv)


def service_env(settings: Settings) -> dict[str, str]:
    """The environment a `vsrc` child process needs to share ``settings``' data dir, database, Redis
    and storage (the fleet suite gives every test server its own PostgreSQL and Redis databases)."""
    env = {"VSRC_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env["VSRC_DATABASE_URL"] = settings.database_url
    if settings.redis_url:
        env["VSRC_REDIS_URL"] = settings.redis_url
    if settings.storage_url:
        env["VSRC_STORAGE_URL"] = settings.storage_url
    return env


def start_worker(settings: Settings, log_path: Path | None = None, **env: str) -> subprocess.Popen[bytes]:
    """A real `vsrc worker` process on the same data dir (its log in ``log_path``, default the data dir)."""
    full_env = {**os.environ, **service_env(settings), **env}
    # The worker's log stays in the data dir, for post-mortems of a failing test.
    log = (log_path or settings.data_dir / "worker.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "vsrc", "worker"], env=full_env, stdout=log, stderr=log)


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for_status(
    server: Server,
    key: str,
    media_id: str,
    statuses: tuple[str, ...] = ("completed", "failed"),
    timeout: float = 120,
) -> tuple[dict, list[int]]:
    """Poll the API until the media reaches one of ``statuses``; returns it and the progress seen."""
    seen: list[int] = []
    last: dict = {}

    def reached() -> dict | None:
        nonlocal last
        last = client.get(f"/api/v1/media/{media_id}").json()["data"]
        seen.append(last["encodingProgress"])
        return last if last["encodingStatus"] in statuses else None

    with server.client(key) as client:
        try:
            data = eventually(reached, timeout=timeout, interval=0.1, what=f"{media_id} reaches {statuses}")
        except AssertionError as exc:
            raise AssertionError(f"{media_id} did not reach {statuses} in {timeout}s (last {last})") from exc
    return data, seen


def upload_file(server: Server, key: str, path: Path, **data: str) -> str:
    data.setdefault("title", path.stem)
    with server.client(key) as client:
        resp = client.post("/api/v1/media/upload", files={"file": (path.name, path.read_bytes())}, data=data)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["data"]["mediaId"])


@pytest.fixture(autouse=True)
def _no_env_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("VSRC_"):
            monkeypatch.delenv(name)
