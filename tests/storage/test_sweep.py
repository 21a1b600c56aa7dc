"""The orphan sweep: stored files of items without a row go once untouched for the age bound; items
with a row, and items being created (stored before their row commits), stay. Both backends, through
the real ``vsrc storage sweep`` command and a real ``vsrc worker``'s periodic task."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.conftest import Server, start_server, start_worker, stop_server, stop_worker, upload_file
from tests.helpers import eventually
from vsrc.db.models import DirectUpload
from vsrc.db.session import transaction
from vsrc.services.orphans import ITEM_FOLDERS, find_orphans

# What a killed process leaves: a deleted item whose files were never purged, a live stream's
# segments, and an upload stored whose row was never committed.
GONE = {
    "vod_gone": [
        "media/vod_gone/original.mp4",
        "hls/vod_gone/master.m3u8",
        "hls/vod_gone/360p/a.ts",
        "thumbnails/vod_gone/poster.jpg",
        "signed/vod_gone",
    ],
    "live_gone": ["hls/live_gone/index.m3u8"],
}
CREATING = ["media/vod_creating/original.mp4", "signed/vod_creating"]


def vsrc(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    settings = server.settings
    env = {**os.environ, "VSRC_DATA_DIR": str(settings.data_dir), "VSRC_LOG_LEVEL": "WARNING"}
    for name, value in (
        ("VSRC_DATABASE_URL", settings.database_url),
        ("VSRC_STORAGE_URL", settings.storage_url),
    ):
        if value:
            env[name] = value
    done = subprocess.run(
        [sys.executable, "-m", "vsrc", *args], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    return done


def stored(server: Server) -> set[str]:
    """Every file of every item (``signed/ID`` markers are objects, not folders)."""
    storage = server.runtime.storage
    keys = {f"signed/{name}" for name in storage.children("signed")}
    for folder in ITEM_FOLDERS:
        for name in storage.children(folder):
            keys.update(storage.list(f"{folder}/{name}"))
    return keys


@pytest.fixture
def srv(tmp_path: Path, storage_url: str | None) -> Server:
    extra = {"storage_url": storage_url} if storage_url else {}
    server = start_server(tmp_path / "data", **extra)
    yield server  # type: ignore[misc]
    stop_server(server)


def test_sweep_removes_old_items_without_a_row_and_nothing_else(srv: Server, clips: dict[str, Path]) -> None:
    write, _ = srv.account_keys()
    kept = upload_file(srv, write, clips["mp4"], playbackPolicy="signed")
    kept_keys = stored(srv)
    assert f"media/{kept}" in {k.rsplit("/", 1)[0] for k in kept_keys} and f"signed/{kept}" in kept_keys
    storage = srv.runtime.storage
    for key in [k for keys in GONE.values() for k in keys] + CREATING:
        storage.put_bytes(key, b"x")

    # Everything was written just now: under the default bound (a day) nothing is an orphan, so the
    # upload being created (stored, its row not committed yet) is safe.
    out = vsrc(srv, "storage", "sweep").stdout
    assert "0 orphaned item(s) found" in out, out
    assert all(storage.exists(k) for k in CREATING)

    def all_older_than_a_second() -> bool:
        ages = [time.time() - w for f in ITEM_FOLDERS for w in storage.children(f).values()]
        return min(ages) > 1.5

    eventually(all_older_than_a_second, timeout=30, what="planted files a second old")
    before = stored(srv)
    out = vsrc(srv, "storage", "sweep", "--dry-run", "--older-than", "1s").stdout
    listed = {line.split()[2].rstrip(":") for line in out.splitlines() if line.startswith("would remove")}
    assert listed == {"vod_gone", "live_gone", "vod_creating"}, out
    assert stored(srv) == before  # a dry run removes nothing

    out = vsrc(srv, "storage", "sweep", "--older-than", "1s").stdout
    assert "3 orphaned item(s) removed" in out, out
    assert stored(srv) == kept_keys  # the item with a row keeps every file, signed marker included
    with srv.client(write) as client:
        assert client.get(f"/api/v1/media/{kept}").status_code == 200
    assert "0 orphaned item(s) found" in vsrc(srv, "storage", "sweep", "--older-than", "1s").stdout


def test_rows_not_age_decide_for_items_that_have_one(srv: Server, clips: dict[str, Path]) -> None:
    """Seen two days later, an item with a row is still no orphan; the item being created is one
    only once it stayed without a row for the whole bound."""
    write, _ = srv.account_keys()
    kept = upload_file(srv, write, clips["mp4"])
    for key in CREATING:
        srv.runtime.storage.put_bytes(key, b"x")
    now = time.time()
    assert find_orphans(srv.sessions, srv.runtime.storage, min_age=86400, now=now) == []
    later = find_orphans(srv.sessions, srv.runtime.storage, min_age=86400, now=now + 2 * 86400)
    assert [(o.item, o.prefixes) for o in later] == [
        ("vod_creating", ("media/vod_creating", "signed/vod_creating"))
    ]
    assert kept not in {o.item for o in later}


def test_the_worker_sweeps_periodically(tmp_path: Path) -> None:
    """Local storage, where a file's age can be set: an orphan two days old goes, a fresh one stays."""
    srv = start_server(tmp_path / "data")
    storage = srv.runtime.storage
    for key in GONE["vod_gone"] + CREATING:
        storage.put_bytes(key, b"x")
    old = time.time() - 2 * 86400
    root = srv.settings.storage_root
    for path in root.rglob("*"):
        if "vod_gone" in path.as_posix():
            os.utime(path, (old, old))
    worker = start_worker(srv.settings, VSRC_ORPHAN_SWEEP_MINUTES="1")
    try:
        eventually(
            lambda: not any(storage.exists(k) for k in GONE["vod_gone"]),
            timeout=240,
            what="the worker's periodic sweep removed every file of the orphan",
        )
        assert all(storage.exists(k) for k in CREATING)
    finally:
        stop_worker(worker)
        stop_server(srv)


def test_an_active_direct_upload_owns_its_item(srv: Server) -> None:
    """On S3 a direct (tus) upload's original is a multipart upload begun at creation; once complete,
    the object's age is the upload's start (real S3's LastModified), which may be a day old when its
    media row is committed. While the ``uploads`` row is active the item is not an orphan; once the
    upload ended without becoming media (expired, cancelled, failed) it is, after the age bound."""
    write, _ = srv.account_keys()
    with srv.client(write) as client:
        made = client.post("/api/v1/uploads", json={"title": "direct"})
    assert made.status_code == 201, made.text
    upload_id = made.json()["data"]["uploadId"]
    key = "media/vod_direct/original.mp4"

    def set_upload(**values: object) -> None:
        with transaction(srv.sessions) as session:
            session.execute(update(DirectUpload).where(DirectUpload.public_id == upload_id).values(**values))

    set_upload(source_key=key, status="uploading")
    srv.runtime.storage.put_bytes(key, b"x")
    later = time.time() + 2 * 86400
    assert find_orphans(srv.sessions, srv.runtime.storage, min_age=86400, now=later) == []
    set_upload(status="expired")
    orphans = find_orphans(srv.sessions, srv.runtime.storage, min_age=86400, now=later)
    assert [o.item for o in orphans] == ["vod_direct"]
