"""Parser for ffmpeg ``-progress`` output.

ffmpeg writes blocks of ``key=value`` lines, each closed by ``progress=continue`` and the last by
``progress=end``. The position is read from ``out_time_us`` (microseconds), else ``out_time``
(``HH:MM:SS.micro``), else ``out_time_ms`` (which, despite its name, is also microseconds in
every ffmpeg release). Values may be ``N/A`` or negative at the start; those are ignored.

The percentage is ``floor(position / duration * 100)``, kept monotonic, and capped at 99 until
``progress=end`` is seen; then it is 100. With an unknown duration (<= 0) it stays 0 until the end.
"""

from __future__ import annotations

import math
import re

__all__ = ["ProgressParser", "parse_out_time"]

_OUT_TIME_RE = re.compile(r"^(-)?(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")


def parse_out_time(value: str) -> float | None:
    """``"00:01:02.500000"`` -> 62.5 seconds; None for ``N/A`` or garbage."""
    m = _OUT_TIME_RE.match(value.strip())
    if not m:
        return None
    seconds = int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4))
    return -seconds if m.group(1) else seconds


def _parse_us(value: str) -> float | None:
    try:
        return int(value.strip()) / 1_000_000
    except ValueError:
        return None


class ProgressParser:
    """Feed it ffmpeg ``-progress`` lines; read :attr:`percent` (0..100)."""

    def __init__(self, duration: float) -> None:
        self.duration = duration if duration > 0 and math.isfinite(duration) else 0.0
        self.percent = 0
        self.done = False
        self.position = 0.0  # seconds of output written (max seen)
        self.last_block: dict[str, str] = {}
        self._block: dict[str, str] = {}
        self._have_pos = False

    def feed(self, data: str) -> int | None:
        """Feed one or more lines; returns the new percentage when it rose, else None."""
        before = self.percent
        for line in data.splitlines():
            self.feed_line(line)
        return self.percent if self.percent > before else None

    def feed_line(self, line: str) -> int | None:
        """Feed one line; returns the new percentage when it rose, else None."""
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        key = key.strip()
        value = value.strip()
        self._block[key] = value
        before = self.percent
        position: float | None = None
        if key == "out_time_us":
            position = _parse_us(value)
        elif key == "out_time":
            position = parse_out_time(value)
        elif key == "out_time_ms":
            position = _parse_us(value)
        elif key == "progress":
            self.last_block = self._block
            self._block = {}
            self._have_pos = False
            if value == "end":
                self.done = True
                self.percent = 100
        # The three keys carry the same position; the first valid one of a block is used.
        if position is not None and position >= 0 and math.isfinite(position) and not self._have_pos:
            self._have_pos = True
            self._advance(position)
        return self.percent if self.percent > before else None

    def _advance(self, position: float) -> None:
        self.position = max(self.position, position)
        if self.done or self.duration <= 0:
            return
        pct = min(99, int(self.position / self.duration * 100))
        if pct > self.percent:
            self.percent = pct
