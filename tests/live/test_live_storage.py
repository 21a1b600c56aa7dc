"""Live HLS through the storage seam, on local files and on S3 (a real S3 protocol server).

A real ffmpeg publishes into the real ingest; what a viewer could fetch is read straight from the
storage (the folder, or the bucket with a plain S3 client) and played through the API while live:
every playlist only ever names segments that are stored, segments appear in order and the window
slides, the broadcast's end reaches the stored playlists (ENDLIST), the recording becomes a completed
VOD (encoded by a real worker on the same storage), deleting the live stream leaves no object, and a
recording kept after a failure is stored by the running ingest once the failure is gone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import m3u8
import pytest
from sqlalchemy import text

from tests.conftest import start_server, start_worker, stop_server, stop_worker, wait_for_status
from tests.helpers import eventually
from tests.live.conftest import LiveStack, publish, start_ingest, stop_ingest
from tests.s3 import s3_client

pytestmark = pytest.mark.slow

SEGMENT = re.compile(r"seg_(\d+)\.ts$")


@dataclass
class Stored:
    """Read-only view of what the storage holds, bypassing VSRC's storage code."""

    root: Path | None = None  # local storage folder
    endpoint: str = ""
    bucket: str = ""
    prefix: str = ""

    def keys(self, prefix: str) -> list[str]:
        if self.root is not None:
            folder = self.root / prefix
            return sorted(p.relative_to(self.root).as_posix() for p in folder.rglob("*") if p.is_file())
        base = f"{self.prefix}/" if self.prefix else ""
        pages = (
            s3_client(self.endpoint)
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self.bucket, Prefix=f"{base}{prefix}/")
        )
        return sorted(item["Key"].removeprefix(base) for page in pages for item in page.get("Contents", []))

    def read(self, key: str) -> str | None:
        if self.root is not None:
            try:
                return (self.root / key).read_text()
            except FileNotFoundError:
                return None
        base = f"{self.prefix}/" if self.prefix else ""
        try:
            body = s3_client(self.endpoint).get_object(Bucket=self.bucket, Key=base + key)["Body"]
        except s3_client(self.endpoint).exceptions.NoSuchKey:
            return None
        return str(body.read().decode())


@dataclass
class Backend:
    stack: LiveStack
    stored: Stored
    name: str


@pytest.fixture(scope="module", params=["file", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    data = tmp_path_factory.mktemp(f"live-{request.param}")
    overrides: dict[str, object] = {"recording_retry_seconds": 1}
    if request.param == "s3":
        url = request.getfixturevalue("module_s3_url")
        parsed = urlparse(url)
        query = parse_qs(parsed.query)
        overrides["storage_url"] = url
        stored = Stored(endpoint=query["endpoint"][0], bucket=parsed.netloc, prefix=parsed.path.strip("/"))
    server = start_server(data, **overrides)
    if request.param == "file":
        stored = Stored(root=server.settings.storage_root)
    worker = start_worker(server.settings)
    stack = start_ingest(server)
    yield Backend(stack, stored, request.param)
    stop_ingest(stack)
    stop_worker(worker)
    stop_server(server)


def consistent(stored: Stored, media_id: str, rung: str) -> m3u8.M3U8 | None:
    """The stored variant playlist, after checking that every segment it names is stored too."""
    body = stored.read(f"hls/{media_id}/{rung}/index.m3u8")
    if body is None:
        return None
    keys = set(stored.keys(f"hls/{media_id}/{rung}"))
    playlist = m3u8.loads(body)
    missing = [s.uri for s in playlist.segments if f"hls/{media_id}/{rung}/{s.uri}" not in keys]
    assert missing == [], f"the stored playlist names segments that are not stored: {missing}"
    return playlist


def test_live_segments_playlists_recording_and_delete(backend: Backend) -> None:
    stack, stored = backend.stack, backend.stored
    write, _ = stack.server.account_keys()
    live = stack.create_live(write, title="Stored show")
    media_id = live["mediaId"]
    publisher = publish(stack.rtmp_url(live["streamKey"]), seconds=20, size="320x240")
    listed: list[int] = []  # media sequence numbers of the segments, in the order they appeared

    def watch() -> bool:
        """Every stored playlist names stored segments only; True once the source one has ended."""
        consistent(stored, media_id, "360p")
        playlist = consistent(stored, media_id, "source")
        if playlist is None:
            return False
        for segment in playlist.segments:
            number = int(SEGMENT.search(segment.uri).group(1))  # type: ignore[union-attr]
            if number not in listed:
                listed.append(number)
        return bool(playlist.is_endlist)

    # While live, the API plays it from the storage: master, variant, a segment it lists.
    eventually(lambda: consistent(stored, media_id, "source"), timeout=60, what="a stored live playlist")
    with stack.server.client() as client:
        master_resp = client.get(f"/hls/{media_id}/master.m3u8")
        assert master_resp.status_code == 200, master_resp.text
        variant = eventually(
            lambda: (
                (r := client.get(f"/hls/{media_id}/source/index.m3u8")).status_code == 200
                and m3u8.loads(r.text).segments
                and m3u8.loads(r.text)
            )
        )
        segment = client.get(f"/hls/{media_id}/source/{variant.segments[-1].uri}")
        assert segment.status_code == 200 and segment.content[:1] == b"G"  # an MPEG-TS sync byte
    eventually(watch, timeout=180, interval=0.1, what="the stored live playlist ended")
    assert publisher.wait(timeout=60) == 0, publisher.stderr.read() if publisher.stderr else ""
    # Segments appeared one after another, and the window slid (the first ones left the storage).
    assert len(listed) >= 8 and listed == sorted(listed) and listed == list(range(listed[0], listed[-1] + 1))
    master = eventually(lambda: stored.read(f"hls/{media_id}/master.m3u8"))
    assert [p.uri for p in m3u8.loads(master).playlists] == ["source/index.m3u8", "360p/index.m3u8"]
    for rung in ("source", "360p"):
        final = eventually(lambda rung=rung: (p := consistent(stored, media_id, rung)) and p.is_endlist and p)
        assert final.segments
    assert f"hls/{media_id}/source/seg_00000.ts" not in stored.keys(f"hls/{media_id}")

    with stack.server.client(write) as client:
        ended = eventually(
            lambda: (d := client.get(f"/api/v1/live/{media_id}").json()["data"])["recordings"] and d
        )
    data, _ = wait_for_status(stack.server, write, ended["recordings"][0]["mediaId"], timeout=240)
    assert data["encodingStatus"] == "completed"
    assert data["duration"] == pytest.approx(20, abs=1.5)
    assert stored.keys(f"hls/{data['mediaId']}")  # the VOD's renditions are stored

    with stack.server.client(write) as client:
        assert client.delete(f"/api/v1/live/{media_id}").status_code == 200
    assert stored.keys(f"hls/{media_id}") == []
    # Nothing stays in this process's scratch (S3 stages are scratch folders).
    scratch = stack.server.settings.scratch_dir
    assert not scratch.exists() or [p for p in scratch.rglob("*") if p.is_file()] == []


def fail_media_inserts(stack: LiveStack) -> tuple[str, str]:
    """A real database failure for new media rows (a trigger); returns the SQL to remove it."""
    engine = stack.server.runtime.engine
    if engine.dialect.name == "sqlite":
        create = (
            "CREATE TRIGGER fail_media BEFORE INSERT ON media "
            "BEGIN SELECT RAISE(ABORT, 'injected outage'); END"
        )
        return create, "DROP TRIGGER fail_media"
    create = (
        "CREATE FUNCTION fail_media() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected outage'; END $$ "
        "LANGUAGE plpgsql; CREATE TRIGGER fail_media BEFORE INSERT ON media "
        "FOR EACH ROW EXECUTE FUNCTION fail_media()"
    )
    return create, "DROP TRIGGER fail_media ON media; DROP FUNCTION fail_media()"


def test_a_kept_recording_is_stored_while_the_ingest_runs(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    stack = backend.stack
    write, _ = stack.server.account_keys()
    live = stack.create_live(write, title="Outage")
    media_id = live["mediaId"]
    create, drop = fail_media_inserts(stack)
    with stack.server.runtime.engine.begin() as conn:
        conn.execute(text(create))
    try:
        assert publish(stack.rtmp_url(live["streamKey"]), seconds=4, size="320x240").wait(timeout=60) == 0
        recordings = stack.ingest.authorizer.recordings_dir
        with stack.server.client(write) as client:
            eventually(lambda: client.get(f"/api/v1/live/{media_id}").json()["data"]["status"] == "ended")
        # The store failed (and its retries every second too): the only copy is kept.
        eventually(lambda: "injected outage" in caplog.text, timeout=60, what="a store failed")
        kept = list(recordings.glob(f"{media_id}-*.flv"))
        assert len(kept) == 1 and kept[0].stat().st_size > 0
        with stack.server.client(write) as client:
            assert client.get(f"/api/v1/live/{media_id}").json()["data"]["recordings"] == []
    finally:
        with stack.server.runtime.engine.begin() as conn:
            conn.execute(text(drop))
    # The outage is over: the running ingest stores it, no restart.
    with stack.server.client(write) as client:
        ended = eventually(
            lambda: (d := client.get(f"/api/v1/live/{media_id}").json()["data"])["recordings"] and d,
            timeout=60,
        )
    assert list(recordings.glob(f"{media_id}-*")) == []
    data, _ = wait_for_status(stack.server, write, ended["recordings"][0]["mediaId"], timeout=240)
    assert data["encodingStatus"] == "completed"


def test_deleting_a_stream_while_it_publishes_leaves_no_object(backend: Backend) -> None:
    stack, stored = backend.stack, backend.stored
    write, _ = stack.server.account_keys()
    live = stack.create_live(write, title="Gone")
    media_id = live["mediaId"]
    publisher = publish(stack.rtmp_url(live["streamKey"]), seconds=8, size="320x240")
    eventually(lambda: consistent(stored, media_id, "source"), timeout=60, what="a stored live playlist")
    with stack.server.client(write) as client:
        assert client.delete(f"/api/v1/live/{media_id}").status_code == 200
    # On S3 the publish goes on (its later syncs store objects again) until the publisher stops; on
    # local storage ffmpeg loses its folder and the publish ends. Either way its end removes what
    # was stored after the delete, and the recording of a deleted stream is dropped.
    publisher.wait(timeout=60)
    eventually(lambda: stored.keys(f"hls/{media_id}") == [], timeout=60, what="no live object left")
    recordings = stack.ingest.authorizer.recordings_dir
    eventually(lambda: list(recordings.glob(f"{media_id}-*")) == [], timeout=60, what="recording dropped")
