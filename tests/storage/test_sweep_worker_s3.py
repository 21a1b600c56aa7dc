"""The orphan sweep on S3, end to end: a real ``vsrc worker``'s periodic task (every minute, the
smallest ``VSRC_ORPHAN_SWEEP_MINUTES``, with a seconds-small ``VSRC_ORPHAN_MIN_AGE``) removes every
object of items without a row, and keeps every object of an item with a row, of one whose encode is
still running, and of one whose upload is still arriving (its multipart upload is open in the bucket)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import (
    Server,
    make_clip,
    start_server,
    start_worker,
    stop_server,
    stop_worker,
    upload_file,
    wait_for_status,
)
from tests.helpers import eventually
from tests.s3 import bucket_keys, incomplete_uploads, s3_url

pytestmark = pytest.mark.slow

MIB = 1024**2
MIN_AGE = 5  # seconds: the planted orphans must be older; the items kept are protected by rows, not age
ORPHANS = [
    "media/vod_gone/original.mp4",
    "hls/vod_gone/master.m3u8",
    "hls/vod_gone/360p/seg_00000.ts",
    "thumbnails/vod_gone/poster.jpg",
    "signed/vod_gone",
    "hls/live_gone/index.m3u8",
]


def item_keys(keys: list[str], item: str) -> set[str]:
    return {k for k in keys if f"/{item}/" in k or k.endswith(f"/{item}")}


def ffmpeg_pid(worker: int) -> int | None:
    """The worker's running ffmpeg (one encode runs at a time here)."""
    found = subprocess.run(["pgrep", "-P", str(worker), "ffmpeg"], capture_output=True, text=True)
    pids = [int(p) for p in found.stdout.split()]
    return pids[0] if pids else None


class StalledUpload:
    """A multipart upload through the API that sends part of its file, then waits."""

    def __init__(self, server: Server, key: str, clip: bytes, first: int) -> None:
        host, port = server.url.removeprefix("http://").split(":")
        boundary = "StalledBoundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nstalled\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()
        self.tail = clip[first:] + f"\r\n--{boundary}--\r\n".encode()
        request = (
            f"POST /api/v1/media/upload HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(head) + first + len(self.tail)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        self.sock = socket.create_connection((host, int(port)))
        self.sock.sendall(request + head + clip[:first])

    def finish(self) -> bytes:
        self.sock.settimeout(120)
        self.sock.sendall(self.tail)
        answer = b""
        while chunk := self.sock.recv(65536):
            answer += chunk
        self.sock.close()
        return answer


def test_the_worker_sweeps_orphans_on_s3_and_keeps_items_in_progress(
    tmp_path: Path, s3_endpoint: str, bucket: str, clips: dict[str, Path]
) -> None:
    srv = start_server(tmp_path / "data", storage_url=s3_url(bucket, s3_endpoint))
    worker = start_worker(srv.settings, VSRC_ORPHAN_SWEEP_MINUTES="1", VSRC_ORPHAN_MIN_AGE=str(MIN_AGE))
    stopped: int | None = None
    try:
        write, _ = srv.account_keys()
        # An item with a row, encoded, signed (its marker is an object of its own).
        done = upload_file(srv, write, clips["mp4"], playbackPolicy="signed")
        assert wait_for_status(srv, write, done)[0]["encodingStatus"] == "completed"

        # An item still encoding: its ffmpeg paused (as a fast-start lane pauses it) once the bucket
        # holds its first objects; the job and its heartbeat go on.
        long_clip = make_clip(tmp_path / "long.mp4", seconds=90, size="640x360", rate=30)
        encoding = upload_file(srv, write, long_clip)
        pid = eventually(lambda: ffmpeg_pid(worker.pid), timeout=120, what="its ffmpeg")
        eventually(
            lambda: item_keys(bucket_keys(s3_endpoint, bucket, "hls/"), encoding),
            timeout=120,
            what="the long encode's first objects in the bucket",
        )
        os.kill(pid, signal.SIGSTOP)
        stopped = pid
        assert ffmpeg_pid(worker.pid) == pid  # paused before it finished

        # An item still uploading: more than one 8 MiB part sent, so its multipart upload is open.
        big = make_clip(  # lossless noise: ~20 MiB in two seconds
            tmp_path / "big.mp4",
            seconds=2,
            size="640x360",
            rate=30,
            extra=["-vf", "noise=alls=40:allf=t+u", "-qp", "0"],
        ).read_bytes()
        assert len(big) > 13 * MIB, len(big)
        # The API hands the body to its parser in batches and may hold up to 2 MiB back while it
        # waits for more (api/uploads.py, FEED_BYTES): 12 MiB make sure a whole 8 MiB part went out.
        uploading = StalledUpload(srv, write, big, 12 * MIB)
        eventually(
            lambda: incomplete_uploads(s3_endpoint, bucket),
            timeout=120,
            interval=0.5,  # the S3 server shares this process (and its GIL) with the API receiving
            what="the upload's open multipart upload",
        )

        storage = srv.runtime.storage
        for key in ORPHANS:
            storage.put_bytes(key, b"x")
        before = bucket_keys(s3_endpoint, bucket)
        kept = {item: item_keys(before, item) for item in (done, encoding)}
        assert f"signed/{done}" in kept[done] and len(kept[encoding]) >= 2, kept

        eventually(
            lambda: not any(storage.exists(k) for k in ORPHANS),
            timeout=240,
            interval=1,
            what="the worker's periodic sweep removed every object of the orphans",
        )
        after = bucket_keys(s3_endpoint, bucket)
        assert item_keys(after, done) == kept[done]
        assert kept[encoding] <= item_keys(after, encoding)  # every object it had is still there
        assert len(incomplete_uploads(s3_endpoint, bucket)) == 1  # the upload's was not aborted
        log = (srv.settings.data_dir / "worker.log").read_text()
        assert "removed 2 orphaned item(s)" in log, log

        os.kill(stopped, signal.SIGCONT)
        stopped = None
        answer = uploading.finish()
        assert answer.startswith(b"HTTP/1.1 201"), answer[:500]
        assert wait_for_status(srv, write, encoding, timeout=300)[0]["encodingStatus"] == "completed"
        late = json.loads(answer.split(b"\r\n\r\n", 1)[1])["data"]["mediaId"]
        assert wait_for_status(srv, write, late, timeout=300)[0]["encodingStatus"] == "completed"
        assert f"media/{late}/original.mp4" in bucket_keys(s3_endpoint, bucket, "media/")
    finally:
        if stopped is not None:
            os.kill(stopped, signal.SIGCONT)
        stop_worker(worker)
        stop_server(srv)
