"""The fleet: PostgreSQL + Redis + an S3 protocol server (moto), two ``vsrc api`` processes, a
``vsrc worker`` and a ``vsrc ingest``, each a real process with its own ``VSRC_DATA_DIR`` and no
shared disk. Any API process serves any item; a killed worker's encode completes on another; a delete
leaves nothing in the bucket; no process keeps media on its own disk (docs/deploy.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import m3u8
import pytest

from tests.conftest import (
    PG_ADMIN_URL,
    REDIS_URL,
    free_port,
    fresh_postgres_database,
    fresh_redis_database,
    make_clip,
    sessions_for,
)
from tests.helpers import eventually
from tests.live.conftest import publish
from tests.s3 import bucket_keys
from tests.tasks.test_encode_pipeline import check_hls
from vsrc.db.session import transaction
from vsrc.services.keys import create_key
from vsrc.storage.url import S3Location, parse_storage_url

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (PG_ADMIN_URL and REDIS_URL),
        reason="the fleet needs PostgreSQL and Redis: set TEST_POSTGRES_URL and TEST_REDIS_URL "
        "(make test-fleet)",
    ),
]
MEDIA_SUFFIXES = {".ts", ".m4s", ".m3u8", ".mp4", ".flv", ".jpg", ".vtt"}


@dataclass
class Proc:
    name: str
    data_dir: Path
    popen: subprocess.Popen[bytes]
    url: str = ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@dataclass
class Fleet:
    root: Path
    env: dict[str, str]
    endpoint: str
    bucket: str
    prefix: str
    write: str
    procs: dict[str, Proc] = field(default_factory=dict)
    items: list[str] = field(default_factory=list)

    def spawn(self, name: str, *args: str, data_dir: Path | None = None, **env: str) -> Proc:
        """A ``vsrc`` process with its own data dir (or ``data_dir``: a restart on the same machine)."""
        if data_dir is None:
            data_dir = self.root / name
            data_dir.mkdir()
        log = (self.root / f"{name}.log").open("ab")  # outside every data dir: they must stay empty
        popen = subprocess.Popen(
            [sys.executable, "-m", "vsrc", *args],
            env={**self.env, "VSRC_DATA_DIR": str(data_dir), **env},
            stdout=log,
            stderr=log,
        )
        proc = self.procs[name] = Proc(name, data_dir, popen)
        return proc

    def api(self, name: str) -> Proc:
        port = free_port()
        proc = self.spawn(
            name,
            "api",
            VSRC_HTTP_HOST="127.0.0.1",
            VSRC_HTTP_PORT=str(port),
            VSRC_PUBLIC_URL=f"http://127.0.0.1:{port}",
        )
        proc.url = f"http://127.0.0.1:{port}"
        eventually(lambda: self._answers(proc), timeout=180, what=f"{name} answers /health")
        return proc

    def _answers(self, proc: Proc) -> bool:
        assert proc.popen.poll() is None, f"{proc.name} exited: see {self.root / proc.name}.log"
        try:
            return httpx.get(f"{proc.url}/health", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def client(self, name: str, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.procs[name].url, headers=headers, timeout=60)

    def objects_of(self, item: str) -> list[str]:
        base = f"{self.prefix}/" if self.prefix else ""
        return [
            key
            for key in bucket_keys(self.endpoint, self.bucket, base)
            if key.removeprefix(base).split("/")[1:2] == [item]
        ]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, module_s3_url: str) -> Iterator[Fleet]:
    assert PG_ADMIN_URL and REDIS_URL
    location = parse_storage_url(module_s3_url)
    assert isinstance(location, S3Location) and location.endpoint
    database = fresh_postgres_database(PG_ADMIN_URL)
    env = {
        **os.environ,
        "VSRC_DATABASE_URL": database,
        "VSRC_REDIS_URL": fresh_redis_database(REDIS_URL),
        "VSRC_STORAGE_URL": module_s3_url,
        "VSRC_LOG_LEVEL": "INFO",
        "VSRC_ENCODE_STALE_SECONDS": "3",
    }
    root = tmp_path_factory.mktemp("fleet")
    subprocess.run(
        [sys.executable, "-m", "vsrc", "migrate"],
        env={**env, "VSRC_DATA_DIR": str(root / "admin")},
        check=True,
        timeout=180,
        capture_output=True,
    )
    with transaction(sessions_for(database)) as session:
        write = create_key(
            session, name="fleet", permission="write", account_email=f"{uuid.uuid4().hex[:10]}@test"
        ).plaintext
    fleet = Fleet(root, env, location.endpoint, location.bucket, location.prefix, write)
    try:
        fleet.api("api-a")
        fleet.api("api-b")
        fleet.spawn("worker-1", "worker")
        rtmp = free_port()
        fleet.spawn("ingest", "ingest", VSRC_RTMP_HOST="127.0.0.1", VSRC_RTMP_PORT=str(rtmp))
        fleet.env["FLEET_RTMP_PORT"] = str(rtmp)
        yield fleet
    finally:
        for proc in reversed(list(fleet.procs.values())):
            proc.stop()


def upload(fleet: Fleet, api: str, clip: Path, **data: str) -> str:
    with fleet.client(api, fleet.write) as client:
        resp = client.post(
            "/api/v1/media/upload",
            files={"file": (clip.name, clip.read_bytes())},
            data={"title": clip.stem, **data},
        )
    assert resp.status_code == 201, resp.text
    media_id = str(resp.json()["data"]["mediaId"])
    fleet.items.append(media_id)
    return media_id


def status(fleet: Fleet, api: str, media_id: str) -> dict:
    with fleet.client(api, fleet.write) as client:
        return dict(client.get(f"/api/v1/media/{media_id}").json()["data"])


def completed(fleet: Fleet, api: str, media_id: str, timeout: float = 600) -> dict:
    data = eventually(
        lambda: (s := status(fleet, api, media_id))["encodingStatus"] in ("completed", "failed") and s,
        timeout=timeout,
        interval=0.5,
        what=f"{media_id} encoded",
    )
    assert data["encodingStatus"] == "completed", data
    return data


def download_hls(fleet: Fleet, api: str, media_id: str, dest: Path) -> Path:
    """Resolve and fetch the master, every rung's playlist and every segment through ``api``."""
    with fleet.client(api) as client:
        resolved = client.get(f"/hls/resolve/{media_id}")
        assert resolved.status_code == 200, resolved.text
        master_path = urlsplit(resolved.json()["ul"]).path
        base = master_path.rsplit("/", 1)[0]
        master = client.get(master_path)
        assert master.status_code == 200
        (dest / "master.m3u8").parent.mkdir(parents=True, exist_ok=True)
        (dest / "master.m3u8").write_bytes(master.content)
        for variant in m3u8.loads(master.text).playlists:
            playlist = client.get(f"{base}/{variant.uri}")
            assert playlist.status_code == 200
            target = dest / variant.uri
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(playlist.content)
            folder = variant.uri.rsplit("/", 1)[0]
            for segment in m3u8.loads(playlist.text).segments:
                got = client.get(f"{base}/{folder}/{segment.uri}")
                assert got.status_code == 200
                (target.parent / segment.uri).write_bytes(got.content)
    return dest


def test_upload_on_one_api_plays_every_rung_on_the_other(fleet: Fleet, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "landscape.mp4", seconds=4, size="640x360", rate=30)
    media_id = upload(fleet, "api-a", clip)
    completed(fleet, "api-b", media_id)
    local = download_hls(fleet, "api-b", media_id, tmp_path / "hls")
    assert check_hls(local, fps=30, seconds=4, audio=True) == [(640, 360), (426, 240)]
    with fleet.client("api-b") as client:
        poster = client.get(f"/thumbnails/{media_id}/poster.jpg")
    assert poster.status_code == 200 and poster.content[:2] == b"\xff\xd8"


def test_a_worker_killed_mid_encode_is_replaced(fleet: Fleet, tmp_path: Path) -> None:
    with fleet.client("api-a", fleet.write) as client:
        slow = client.post(
            "/api/v1/encoding-profiles",
            json={"name": "slow", "rungs": [{"height": 360, "videoBitrate": 800_000}], "preset": "veryslow"},
        ).json()["data"]["id"]
    clip = make_clip(tmp_path / "long.mp4", seconds=12, size="640x360", rate=30)
    media_id = upload(fleet, "api-a", clip, encodingProfileId=str(slow))
    first = fleet.procs["worker-1"]
    eventually(
        lambda: any(k.endswith(".ts") for k in fleet.objects_of(media_id)),
        timeout=300,
        what="the first segment in the bucket",
    )
    first.popen.send_signal(signal.SIGKILL)
    first.popen.wait()
    assert status(fleet, "api-b", media_id)["encodingStatus"] == "processing"
    fleet.spawn("worker-2", "worker")
    completed(fleet, "api-b", media_id, timeout=900)
    local = download_hls(fleet, "api-a", media_id, tmp_path / "hls")
    rung = m3u8.load(str(local / "360p" / "index.m3u8"))
    assert rung.is_endlist and round(sum(s.duration for s in rung.segments)) == 12
    stored = {k.rsplit("/", 1)[1] for k in fleet.objects_of(media_id) if "/360p/" in k and k.endswith(".ts")}
    assert stored == {s.uri for s in rung.segments}  # nothing of the killed attempt mixed in


def test_live_through_the_ingest_plays_on_an_api_and_becomes_a_vod(fleet: Fleet) -> None:
    with fleet.client("api-a", fleet.write) as client:
        created = eventually(
            lambda: (r := client.post("/api/v1/live", json={"title": "Fleet show"})).status_code == 201 and r,
            timeout=60,
            what="the ingest server online",
        )
    live = created.json()["data"]
    live_id = live["mediaId"]
    port = fleet.env["FLEET_RTMP_PORT"]
    publisher = publish(f"rtmp://127.0.0.1:{port}/live/{live['streamKey']}", seconds=10)
    try:
        with fleet.client("api-a") as client:

            def segment_through_api() -> bool:
                playlist = client.get(f"/hls/{live_id}/source/index.m3u8")
                if playlist.status_code != 200 or not m3u8.loads(playlist.text).segments:
                    return False
                first = m3u8.loads(playlist.text).segments[0].uri
                segment = client.get(f"/hls/{live_id}/source/{first}")
                return segment.status_code == 200 and len(segment.content) > 0

            eventually(segment_through_api, timeout=120, what="a live segment played through api-a")
        assert publisher.wait(timeout=120) == 0
    finally:
        if publisher.poll() is None:
            publisher.kill()
    with fleet.client("api-b", fleet.write) as client:
        ended = eventually(
            lambda: (s := client.get(f"/api/v1/live/{live_id}").json()["data"])["recordings"] and s,
            timeout=180,
            what="the recording stored",
        )
    recording = ended["recordings"][0]["mediaId"]
    fleet.items += [recording, live_id]
    assert completed(fleet, "api-b", recording)["duration"] == pytest.approx(10, abs=1.5)


def test_deletes_leave_nothing_in_the_bucket_or_on_any_disk(fleet: Fleet) -> None:
    assert fleet.items, "run with the tests above"
    for item in fleet.items:
        path = f"/api/v1/live/{item}" if item.startswith("live_") else f"/api/v1/media/{item}"
        with fleet.client("api-b", fleet.write) as client:
            assert client.delete(path).status_code == 200
        assert fleet.objects_of(item) == [], item
    killed = fleet.procs["worker-1"]
    if killed.popen.returncode == -signal.SIGKILL:
        # Its machine restarts it (systemd): the new process sweeps the scratch the dead one left.
        fleet.spawn("worker-1-restarted", "worker", data_dir=killed.data_dir)
        eventually(
            lambda: media_in(killed.data_dir) == [], timeout=180, what="the dead worker's scratch swept"
        )
    for proc in fleet.procs.values():
        assert media_in(proc.data_dir) == [], f"{proc.name} keeps media on its own disk"


def media_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and p.suffix in MEDIA_SUFFIXES]
