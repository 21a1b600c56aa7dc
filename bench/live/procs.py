"""Processes of the live benchmark: publishers, ffmpeg RTMP listeners, our ingest; CPU time from /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from vsrc.media.commands import ffmpeg_exe

REPO = Path(__file__).resolve().parents[2]
TICK = os.sysconf("SC_CLK_TCK")
HLS_FLAGS = "delete_segments+independent_segments+temp_file+program_date_time"


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` itself (children not included); 0 when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def children(pid: int) -> list[int]:
    """Direct children of ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def is_listening(port: int) -> bool:
    """Whether some socket listens on 127.0.0.1/0.0.0.0:``port`` (read from /proc: connecting to
    an ``ffmpeg -listen 1`` would use up its only accept)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def wait_listening(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not is_listening(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on port {port}")
        time.sleep(0.02)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Publisher:
    """``ffmpeg -re -stream_loop -1 -i SOURCE -c copy -f flv URL`` with ``-progress``.

    The capture clock: with ``-re`` (and no initial burst) a packet with timestamp t leaves at
    ``t0 + t``. Each progress report (every 0.1 s) arrives at wall time w with ``out_time`` u,
    the timestamp of the last packet written, so ``w - u >= t0``; the minimum over the run is the
    estimate of t0 (within about a frame)."""

    def __init__(self, source: Path, url: str) -> None:
        argv = [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
            "-re", "-readrate_initial_burst", "0", "-stream_loop", "-1", "-i", str(source),
            "-c", "copy", "-progress", "pipe:1", "-stats_period", "0.1", "-f", "flv", url,
        ]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.t0 = float("inf")
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            if raw.startswith(b"out_time_us="):
                now = time.monotonic()
                try:
                    out_time = int(raw.split(b"=", 1)[1]) / 1e6
                except ValueError:
                    continue
                if out_time > 0:
                    self.t0 = min(self.t0, now - out_time)

    def stop(self) -> None:
        stop(self.proc, signal.SIGINT)
        self._thread.join(timeout=5)


def ffmpeg_listener(port: int, out: Path) -> subprocess.Popen[bytes]:
    """The baseline: ffmpeg's own RTMP server remuxing (``-c copy``) to the same live HLS settings."""
    out.mkdir(parents=True, exist_ok=True)
    argv = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
        "-listen", "1", "-i", f"rtmp://127.0.0.1:{port}/live/x",
        "-map", "0:v:0", "-map", "0:a:0", "-c", "copy",
        "-f", "hls", "-hls_time", "2", "-hls_list_size", "6", "-hls_flags", HLS_FLAGS,
        "-hls_segment_filename", str(out / "seg_%05d.ts"), str(out / "index.m3u8"),
    ]  # fmt: skip
    return subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def our_ingest(out: Path, sink: str, storage_url: str | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """Start :mod:`bench.live.ingest_proc`; returns it and its RTMP port."""
    extra = ["--storage-url", storage_url] if storage_url else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.live.ingest_proc", "--out", str(out), "--sink", sink, *extra],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line.startswith("PORT "):
        stop(proc)
        raise RuntimeError(f"ingest did not start: {line!r}")
    return proc, int(line.split()[1])
