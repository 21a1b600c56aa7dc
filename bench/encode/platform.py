"""(a) The platform end to end: a real API server (uvicorn, in this process) and a real worker process.

Timing starts when the upload's 201 arrives and stops when the API reports ``completed`` (polled
every 0.25 s, like a client would). Alongside, the storage folder is polled every 50 ms for:
the job start (the worker creates ``hls/{id}`` right before ffmpeg starts) and the first playable
moment (every rung's ``index.m3u8`` lists a segment).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from tests.conftest import Server, start_server, start_worker, stop_server, stop_worker

from bench.encode.source import has_segment

REPO = Path(__file__).resolve().parents[2]
FS_POLL = 0.05
API_POLL = 0.25


@dataclass(frozen=True)
class PlatformRun:
    media_id: str
    upload: float  # seconds the upload request took (not part of the measurement)
    total: float  # 201 -> completed
    pickup: float | None  # 201 -> the worker starts the job (hls/{id} appears)
    first_playable: float | None  # 201 -> every rung playlist lists a segment
    master: float | None  # 201 -> master.m3u8 exists
    encoded: float | None  # 201 -> every rung playlist has #EXT-X-ENDLIST (the ladder ffmpeg is done)
    status: str
    cpu: float  # CPU seconds of the worker process and its ffmpeg children, 201 -> completed
    load: float  # 1-minute load average at the end


class Platform:
    """API server + one worker (``VSRC_WORKERS=1``: one encode at a time) on a fresh data dir.

    ``worker_max_delay`` None runs the real ``vsrc worker``; a number runs
    :mod:`bench.encode.worker` (the same worker with Huey's idle polling capped at that many seconds).
    """

    def __init__(self, data_dir: Path, *, worker_max_delay: float | None = None) -> None:
        self.server: Server = start_server(data_dir)
        env = {"VSRC_WORKERS": "1", "VSRC_LOG_LEVEL": "WARNING"}
        if worker_max_delay is None:
            self.worker = start_worker(self.server.settings, **env)
        else:
            self.worker = subprocess.Popen(
                [sys.executable, "-m", "bench.encode.worker", "--max-delay", str(worker_max_delay)],
                env={**os.environ, "VSRC_DATA_DIR": str(self.server.settings.data_dir), **env},
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        self.key = self.server.key("write")

    def close(self) -> None:
        stop_worker(self.worker)
        stop_server(self.server)

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def run(self, source: Path, rung_names: list[str], timeout: float = 1200) -> PlatformRun:
        client = httpx.Client(
            base_url=self.server.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=600
        )
        with client, source.open("rb") as fh:
            t_up = time.monotonic()
            resp = client.post(
                "/api/v1/media/upload",
                files={"file": (source.name, fh, "video/mp4")},
                data={"title": f"bench {source.stem}"},
            )
            t0 = time.monotonic()
            if resp.status_code != 201:
                raise RuntimeError(f"upload failed: {resp.status_code} {resp.text[:500]}")
            media_id = str(resp.json()["data"]["mediaId"])
            return self._watch(client, media_id, rung_names, t0, t0 - t_up, timeout)

    def _watch(
        self, client: httpx.Client, media_id: str, rungs: list[str], t0: float, upload: float, timeout: float
    ) -> PlatformRun:
        hls = self.server.settings.storage_root / "hls" / media_id
        pickup = playable = master = encoded = None
        next_api = t0
        cpu0 = process_cpu(self.worker.pid)
        while True:
            now = time.monotonic()
            if now - t0 > timeout:
                raise RuntimeError(f"{media_id} did not finish in {timeout} s")
            if pickup is None and hls.is_dir():
                pickup = now - t0
            if pickup is not None and master is None and (hls / "master.m3u8").exists():
                master = now - t0
            if (
                pickup is not None
                and playable is None
                and all(has_segment(hls / r / "index.m3u8") for r in rungs)
            ):
                playable = now - t0
            if (
                playable is not None
                and encoded is None
                and all(_ended(hls / r / "index.m3u8") for r in rungs)
            ):
                encoded = now - t0
            if now >= next_api:
                next_api = now + API_POLL
                data = client.get(f"/api/v1/media/{media_id}").json()["data"]
                status = str(data["encodingStatus"])
                if status in ("completed", "failed"):
                    cpu = process_cpu(self.worker.pid) - cpu0
                    load = os.getloadavg()[0]
                    return PlatformRun(
                        media_id, upload, now - t0, pickup, playable, master, encoded, status, cpu, load
                    )
            time.sleep(FS_POLL)


def process_cpu(pid: int) -> float:
    """utime + stime of ``pid`` plus those of its children it has waited for (cutime + cstime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _ended(playlist: Path) -> bool:
    try:
        return "#EXT-X-ENDLIST" in playlist.read_text()
    except OSError:
        return False
