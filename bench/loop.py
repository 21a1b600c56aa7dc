"""Event-loop responsiveness: `/health` latency alone vs. while a large upload streams in.

    .venv/bin/python -m bench.loop [--mib 512] [--probes 200] [--workdir DIR] [--json FILE] [--wait-quiet S]

Serves a fresh data dir with `vsrc api` (one uvicorn process, so one event loop), then times
sequential `GET /health` requests: first ``--probes`` of them alone, then as many as fit while one
client streams a generated ``--mib`` MiB multipart upload (never held in memory) to
`/api/v1/media/upload`. The upload is not a video, so it is refused once received: what is measured
is the server's event loop while the body is parsed and written. Prints p50/p99/max of both and the
p99 ratio (during / alone): with blocking work on the loop the ratio grows with the disk's latency.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from bench import common

MIB = 1024**2


@dataclass
class Stats:
    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> Stats:
        ms = [s * 1000 for s in seconds]
        return cls(len(ms), common.percentile(ms, 50), common.percentile(ms, 99), max(ms))


def _probe(client: httpx.Client) -> float:
    start = time.perf_counter()
    assert client.get("/health").status_code == 200
    return time.perf_counter() - start


def _body(mib: int, boundary: str) -> tuple[Iterator[bytes], int]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nloop bench\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    block = bytes(range(256)) * (MIB // 256)

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(mib):
            yield block
        yield tail

    return chunks(), len(head) + mib * MIB + len(tail)


def run(mib: int, probes: int, workdir: Path) -> dict[str, object]:
    env = common.vsrc_env(workdir)
    common.vsrc_cli(["migrate"], env)
    key = common.create_key(env)
    with common.vsrc_api(env) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        for _ in range(20):  # warm-up: connections, threadpool, SQLite
            _probe(client)
        alone = Stats.of([_probe(client) for _ in range(probes)])
        boundary = uuid.uuid4().hex
        content, length = _body(mib, boundary)
        status: list[int] = []

        def upload() -> None:
            headers = {
                "Authorization": f"Bearer {key}",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(length),
            }
            with httpx.Client(timeout=600) as uploader:
                status.append(
                    uploader.post(
                        server.url + "/api/v1/media/upload", content=content, headers=headers
                    ).status_code
                )

        thread = threading.Thread(target=upload)
        started = time.perf_counter()
        thread.start()
        samples = []
        while thread.is_alive():
            samples.append(_probe(client))
        seconds = time.perf_counter() - started
    during = Stats.of(samples)
    return {
        "machine": common.machine(),
        "date": common.today(),
        "loadavg": common.loadavg(),
        "upload_mib": mib,
        "upload_seconds": round(seconds, 2),
        "upload_status": status[0] if status else None,
        "alone": asdict(alone),
        "during_upload": asdict(during),
        "p99_ratio": round(during.p99_ms / alone.p99_ms, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--wait-quiet", type=float, default=60, help="max s to wait for a quiet machine")
    args = parser.parse_args()
    common.wait_for_quiet(args.wait_quiet)
    with tempfile.TemporaryDirectory(prefix="vsrc-loop-") as tmp:
        result = run(args.mib, args.probes, args.workdir or Path(tmp))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
