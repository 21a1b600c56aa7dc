"""A stored source's fingerprint (what the upload records and the encode job checks) read through the
storage equals the local file's (``vsrc.media.probed``), on both backends, reading only both ends of it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.storage.backends import Backend
from vsrc.media import probed
from vsrc.services.uploads import source_fingerprint


@pytest.mark.parametrize("size", [10, probed.SAMPLE + 1, 3 * probed.SAMPLE + 7])
def test_stored_fingerprint_matches_the_files(backend: Backend, tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    local = tmp_path / "original.mp4"
    local.write_bytes(data)
    mark = probed.file_fingerprint(local)
    stored = tmp_path / "to-store.mp4"
    stored.write_bytes(data)
    backend.storage.put_file("media/vod_f/original.mp4", stored)
    assert source_fingerprint(backend.storage, "media/vod_f/original.mp4") == mark
    changed = bytearray(data)
    changed[-1] ^= 1  # the last byte: the tail sample covers it
    local.write_bytes(bytes(changed))
    assert probed.file_fingerprint(local) != mark
