"""``vsrc storage migrate --to s3://…``: a local library made by real uploads and encodes is copied
into a bucket (a real S3 protocol server), resumably (a killed run continues), idempotently (a second
run copies nothing) and verified."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
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
from tests.s3 import bucket_keys, incomplete_uploads, s3_client, s3_url
from vsrc.storage.local import LocalStorage
from vsrc.storage.migrate import library_files, migrate
from vsrc.storage.s3 import S3Storage
from vsrc.storage.url import parse_storage_url

pytestmark = pytest.mark.slow
PREFIX = "lib"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Local storage holding two encoded items (one signed) and a source above the multipart part size."""
    root = tmp_path_factory.mktemp("library")
    srv = start_server(root / "data")
    worker = start_worker(srv.settings)
    try:
        write, _ = srv.account_keys()
        clips = [
            make_clip(root / "a.mp4", seconds=2, size="320x180"),
            make_clip(root / "b.mp4", seconds=2, size="320x180"),
            # Lossless noise: ~20 MiB in two seconds, so its copy is a multipart upload.
            make_clip(
                root / "big.mp4",
                seconds=2,
                size="640x360",
                rate=30,
                extra=["-vf", "noise=alls=40:allf=t+u", "-qp", "0"],
            ),
        ]
        assert clips[2].stat().st_size > 8 * 1024**2
        ids = [
            upload_file(srv, write, clips[0]),
            upload_file(srv, write, clips[1], playbackPolicy="signed"),
            upload_file(srv, write, clips[2]),
        ]
        for media_id in ids:
            assert wait_for_status(srv, write, media_id, timeout=300)[0]["encodingStatus"] == "completed"
    finally:
        stop_worker(worker)
    yield srv
    stop_server(srv)


def local_objects(srv: Server) -> dict[str, bytes]:
    return {key: path.read_bytes() for key, path in library_files(LocalStorage(srv.settings.storage_root))}


def bucket_objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    client = s3_client(endpoint)
    return {
        key.removeprefix(f"{PREFIX}/"): client.get_object(Bucket=bucket, Key=key)["Body"].read()
        for key in bucket_keys(endpoint, bucket)
    }


def vsrc_migrate(srv: Server, to: str, **popen: object) -> subprocess.Popen[str]:
    env = {**os.environ, "VSRC_DATA_DIR": str(srv.settings.data_dir), "VSRC_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [sys.executable, "-m", "vsrc", "storage", "migrate", "--to", to],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,  # type: ignore[call-overload]
    )


def finish(proc: subprocess.Popen[str]) -> str:
    out, errors = proc.communicate(timeout=300)
    assert proc.returncode == 0, errors
    return out


def test_migrate_killed_half_way_resumes_then_copies_nothing(
    library: Server, s3_endpoint: str, bucket: str
) -> None:
    to = s3_url(bucket, s3_endpoint, PREFIX)
    expected = local_objects(library)
    assert any(k.startswith("hls/") for k in expected) and any(k.startswith("signed/") for k in expected)

    first = vsrc_migrate(library, to)
    assert first.stdout is not None
    # Keys are copied in order (hls/ before media/): once the originals start, the segments are in.
    for line in first.stdout:
        if line.startswith("copy media/"):
            break
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    half = set(bucket_keys(s3_endpoint, bucket))
    assert half and {f"{PREFIX}/{k}" for k in expected} - half  # killed with work left

    out = finish(vsrc_migrate(library, to))
    lines = out.splitlines()
    assert lines[-1] == f"VSRC_STORAGE_URL={to}"  # the exact line to switch to
    summary = lines[-2]
    assert f"{len(expected)} objects verified" in summary
    assert " 0 already there" not in summary  # the killed run's objects were not copied again
    assert not any(line.startswith("copy hls/") for line in lines)
    assert bucket_objects(s3_endpoint, bucket) == expected
    assert incomplete_uploads(s3_endpoint, bucket) == []  # a multipart upload the kill cut is ended

    again = finish(vsrc_migrate(library, to)).splitlines()
    assert (
        f"{len(expected)} objects verified in the bucket: 0 copied (0 bytes), {len(expected)} already there"
        in again[-2]
    )
    assert bucket_objects(s3_endpoint, bucket) == expected


def test_interrupted_copy_resumes_where_it_stopped(
    library: Server, s3_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    source = LocalStorage(library.settings.storage_root)
    location = parse_storage_url(s3_url(bucket, s3_endpoint, PREFIX))
    target = S3Storage(location, scratch=tmp_path / "scratch")  # type: ignore[arg-type]
    keys = [key for key, _ in library_files(source)]

    class Interrupted(Exception):
        pass

    calls: list[str] = []

    def stop_at_fourth(action: str, key: str, size: int) -> None:
        calls.append(key)
        if len(calls) == 4:
            raise Interrupted

    with pytest.raises(Interrupted):
        migrate(source, target, progress=stop_at_fourth)
    assert len(bucket_keys(s3_endpoint, bucket)) == 3
    # A multipart upload a killed run left behind for one of the keys.
    s3_client(s3_endpoint).create_multipart_upload(Bucket=bucket, Key=f"{PREFIX}/{keys[-1]}")
    report = migrate(source, target)
    assert report.skipped == 3 and len(report.copied) == len(keys) - 3 and report.recopied == []
    assert report.aborted_uploads == 1 and incomplete_uploads(s3_endpoint, bucket) == []
    report = migrate(source, target)
    assert (report.skipped, report.copied, report.recopied) == (len(keys), [], [])

    # An object that differs with the same size is found by verification and copied again.
    victim = keys[0]
    data = (source.root / victim).read_bytes()
    target.put_bytes(victim, bytes([data[0] ^ 1]) + data[1:])
    report = migrate(source, target)
    assert report.copied == [] and report.recopied == [victim]
    assert b"".join(target.read_range(victim)) == data


def test_migrate_refuses_what_it_cannot_do(library: Server, s3_endpoint: str, bucket: str) -> None:
    bad = vsrc_migrate(library, "file:///tmp/elsewhere")
    assert bad.wait(timeout=120) == 2
    assert bad.stderr is not None and "--to must be an s3:// URL" in bad.stderr.read()
    env = {
        **os.environ,
        "VSRC_DATA_DIR": str(library.settings.data_dir),
        "VSRC_STORAGE_URL": s3_url(bucket, s3_endpoint),
    }
    done = subprocess.run(
        [sys.executable, "-m", "vsrc", "storage", "migrate", "--to", s3_url(bucket, s3_endpoint, "x")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "migrate copies a local library" in done.stderr


def test_what_was_deleted_between_runs_leaves_the_bucket_and_live_items_keep_theirs(
    library: Server, s3_endpoint: str, bucket: str, clips: dict[str, Path]
) -> None:
    """The library changes between two runs: an item deleted (row and files), one made public (its
    signed marker removed), one whose local files are gone while its row stays. After the second run
    the bucket holds nothing of the deleted item and not the stale marker; the item with a row keeps its
    objects, and objects the migration did not copy (written to the bucket by a process already on
    S3) are never touched."""
    to = s3_url(bucket, s3_endpoint, PREFIX)
    write, _ = library.account_keys()
    deleted = upload_file(library, write, clips["mp4"], playbackPolicy="signed")
    public = upload_file(library, write, clips["mp4"], playbackPolicy="signed")
    wiped = upload_file(library, write, clips["mp4"])
    finish(vsrc_migrate(library, to))
    first = bucket_objects(s3_endpoint, bucket)
    assert {f"signed/{deleted}", f"signed/{public}", f"media/{wiped}/original.mp4"} <= set(first)

    with library.client(write) as client:
        assert client.delete(f"/api/v1/media/{deleted}").status_code == 200
        changed = client.patch(f"/api/v1/media/{public}", json={"playbackPolicy": "public"})
        assert changed.status_code == 200, changed.text
    shutil.rmtree(library.settings.storage_root / "media" / wiped)
    s3 = s3_client(s3_endpoint)
    written_on_s3 = [f"hls/{public}/extra.ts", "media/vod_creating/original.mp4", f"hls/{deleted}/late.ts"]
    for key in written_on_s3:
        s3.put_object(Bucket=bucket, Key=f"{PREFIX}/{key}", Body=b"x")

    out = finish(vsrc_migrate(library, to))
    objects = bucket_objects(s3_endpoint, bucket)
    gone = {k for k in first if deleted in k} | {f"signed/{public}"}
    assert gone and not gone & set(objects), out
    assert set(objects) == set(local_objects(library)) | {f"media/{wiped}/original.mp4", *written_on_s3}
    assert f"{len(gone)} object(s) removed that the library no longer holds" in out, out
