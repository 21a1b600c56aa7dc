"""A probe result stored with the media row at upload time, so the encode job does not probe again.

The upload has to probe the file anyway (to refuse what is no video); the encode job used to probe it
a second time, which reads every packet of the file (the duration is what the packets span) and so
grows with the source's length: ~1.5-5 s for a 10-minute 1080p source on a 2-core box
(docs/benchmarks.md, "Fast start"). The job now reuses the stored result when the file it is about
to encode is still the file that was probed: same length and the same digest of its first and last
:data:`SAMPLE` bytes (a cheap check, whatever the file's length: containers keep their index at one
end, so a different file of the same length differs there). Anything else (no stored result, an
older format, a replaced or changed source) means probing again, as before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from vsrc.media.probe import SourceInfo

__all__ = ["FORMAT", "SAMPLE", "dump", "file_fingerprint", "fingerprint", "load"]

#: Bumped whenever SourceInfo's fields or their meaning change: older stored results are ignored.
FORMAT = 1
#: Bytes hashed at each end of the file.
SAMPLE = 64 * 1024

_FRACTIONS = ("frame_rate", "sample_aspect_ratio")


def fingerprint(size: int, read: Callable[[int, int], bytes]) -> str:
    """``"<size>:<sha256 of the first and last SAMPLE bytes>"`` of a file of ``size`` bytes whose bytes
    ``[start, stop)`` ``read`` returns (a local file, or an object through ``Storage.read_range``)."""
    digest = hashlib.sha256()
    digest.update(read(0, min(size, SAMPLE)))
    if size > SAMPLE:
        digest.update(read(max(SAMPLE, size - SAMPLE), size))
    return f"{size}:{digest.hexdigest()}"


def file_fingerprint(path: str | os.PathLike[str]) -> str:
    """:func:`fingerprint` of a local file."""
    with open(path, "rb") as fh:

        def read(start: int, stop: int) -> bytes:
            fh.seek(start)
            return fh.read(stop - start)

        return fingerprint(os.fstat(fh.fileno()).st_size, read)


def dump(info: SourceInfo, source_fingerprint: str) -> str:
    """The text stored in ``media.source_probe``."""
    fields: dict[str, Any] = dataclasses.asdict(info)
    for name in _FRACTIONS:
        value = fields[name]
        fields[name] = None if value is None else f"{value.numerator}/{value.denominator}"
    return json.dumps({"format": FORMAT, "fingerprint": source_fingerprint, "info": fields})


def load(text: str | None, source_fingerprint: str) -> SourceInfo | None:
    """The stored result when it was made for a file with ``source_fingerprint`` in this format, else None."""
    if not text:
        return None
    try:
        record = json.loads(text)
        if record.get("format") != FORMAT or record.get("fingerprint") != source_fingerprint:
            return None
        fields = dict(record["info"])
        for name in _FRACTIONS:
            if fields.get(name) is not None:
                fields[name] = Fraction(fields[name])
        return SourceInfo(**fields)
    except (ValueError, TypeError, KeyError, AttributeError, ZeroDivisionError):
        return None  # unreadable: probing again is always safe
