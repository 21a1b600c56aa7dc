"""``Storage.children``: the per-item view of a folder the orphan sweep works from, on both backends."""

from __future__ import annotations

import os
import time

from tests.storage.backends import Backend, remote
from vsrc.storage import LocalStorage

# Object stores keep whole-second (or millisecond) modification times; the clock is the same box.
SLACK = 2.0


def test_children_name_each_item_with_its_newest_write(backend: Backend) -> None:
    storage = backend.storage
    before = time.time()
    for key in (
        "hls/vod_a/master.m3u8",
        "hls/vod_a/360p/seg_00001.ts",
        "hls/vod_b/master.m3u8",
        "hlsx/vod_c/master.m3u8",  # another folder sharing the name's beginning
        "signed/vod_a",  # a marker: an object directly in the folder
    ):
        storage.put_bytes(key, b"x")
    after = time.time()
    hls = storage.children("hls")
    assert sorted(hls) == ["vod_a", "vod_b"]
    assert all(before - SLACK <= when <= after + SLACK for when in hls.values())
    assert sorted(storage.children("signed")) == ["vod_a"]
    assert storage.children("thumbnails") == {}
    storage.delete_prefix("hls/vod_a")
    assert sorted(storage.children("hls")) == ["vod_b"]
    if remote(backend):
        return
    # Local storage: the newest file anywhere under the item counts, not the folder's own time.
    assert isinstance(storage, LocalStorage)
    storage.put_bytes("media/vod_d/original.mp4", b"x")
    storage.put_bytes("media/vod_d/deep/newer", b"x")
    old = time.time() - 3 * 86400
    for path in [storage.root / "media/vod_d", *(storage.root / "media/vod_d").rglob("*")]:
        os.utime(path, (old, old))
    assert storage.children("media")["vod_d"] < before - 86400
    os.utime(storage.root / "media/vod_d/deep/newer")
    assert storage.children("media")["vod_d"] >= before - SLACK
