"""Polls live playlists every 50 ms and records when each segment is first listed."""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

POLL = 0.05
_SEG_RE = re.compile(r"(\d+)\.ts$")


@dataclass
class Segment:
    index: int
    duration: float
    listed: float  # time.monotonic() of the first poll that saw it


@dataclass
class Stream:
    playlist: Path
    segments: dict[int, Segment] = field(default_factory=dict)
    _mtime: int = 0

    def read(self) -> str | None:
        """The playlist's text when it changed since the last read, else None."""
        try:
            mtime = os.stat(self.playlist).st_mtime_ns
            if mtime == self._mtime:
                return None
            text = self.playlist.read_text()
        except OSError:
            return None
        self._mtime = mtime
        return text

    def poll(self, now: float) -> None:
        text = self.read()
        if text is None:
            return
        duration = None
        for line in text.splitlines():
            if line.startswith("#EXTINF:"):
                duration = float(line[8:].split(",", 1)[0])
            elif line and not line.startswith("#") and duration is not None:
                match = _SEG_RE.search(line)
                if match:
                    index = int(match.group(1))
                    if index not in self.segments:
                        self.segments[index] = Segment(index, duration, now)
                duration = None

    def start_of(self, index: int) -> float | None:
        """Stream time of segment ``index``'s first frame: the sum of the durations before it."""
        try:
            return sum(self.segments[i].duration for i in range(index))
        except KeyError:
            return None


@dataclass
class BucketStream(Stream):
    """A playlist in an S3 bucket (``playlist`` is its key), read with a conditional GET."""

    client: Any = None
    bucket: str = ""
    _etag: str = ""

    def read(self) -> str | None:
        from botocore.exceptions import ClientError

        try:
            got = self.client.get_object(
                Bucket=self.bucket, Key=str(self.playlist), IfNoneMatch=self._etag or "*"
            )
        except ClientError:  # 304 Not Modified, or not there yet
            return None
        self._etag = got["ETag"]
        return str(got["Body"].read().decode())


class Watcher:
    """Background thread polling every stream's playlist."""

    def __init__(self, playlists: list[Path] | list[Stream]) -> None:
        self.streams = [p if isinstance(p, Stream) else Stream(p) for p in playlists]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for stream in self.streams:
                stream.poll(now)
            self._stop.wait(POLL)

    def all_started(self) -> bool:
        return all(s.segments for s in self.streams)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
