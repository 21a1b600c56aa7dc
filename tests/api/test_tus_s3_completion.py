"""tus on S3 edge cases. A tus upload on S3 completes exactly once: while the last PATCH's
request probes and records the item (a long probe of a large original can outlast the lease), it
keeps holding the upload, so a client's retried last PATCH through another API process cannot
start a second completion, whose failure would remove the first one's stored original.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from tests.api.test_tus_s3 import fleet, on  # noqa: F401 (fixture)
from tests.api.tus_helpers import create_upload, get_upload, tus_create, tus_patch, upload_row
from tests.conftest import Server, make_clip
from tests.helpers import eventually
from tests.s3 import bucket_keys
from vsrc.db.models import DirectUpload
from vsrc.services import tus_s3, uploads
from vsrc.timeutil import utcnow

pytestmark = pytest.mark.slow


@pytest.fixture
def held_probe(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """The first probe waits (really probing afterwards) until the test lets it go."""
    started, release = threading.Event(), threading.Event()
    real = uploads.probe_source
    calls: list[int] = []

    def probe(path: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            started.set()
            release.wait(120)
        return real(path, **kwargs)

    monkeypatch.setattr(uploads, "probe_source", probe)
    yield started, release
    release.set()


def test_a_retried_last_patch_during_a_long_completion_does_not_complete_twice(
    fleet: tuple[Server, Server],  # noqa: F811
    held_probe: tuple[threading.Event, threading.Event],
    monkeypatch: pytest.MonkeyPatch,
    s3_endpoint: str,
    bucket: str,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(tus_s3, "LEASE_SECONDS", 3.0)  # a probe outlasting the lease, made short
    monkeypatch.setattr(tus_s3, "RENEW_SECONDS", 0.3)
    a, b = fleet
    started, release = held_probe
    write, read = a.account_keys()
    data = make_clip(tmp_path / "c.mp4", seconds=1, size="160x120", rate=25).read_bytes()
    upload = create_upload(a, write)
    url = upload["uploadUrl"]
    assert tus_create(url, len(data)).status_code == 201

    answers: list[int] = []
    first = threading.Thread(target=lambda: answers.append(tus_patch(url, 0, data).status_code))
    first.start()
    try:
        assert started.wait(60), "the last PATCH's probe never started"
        leased_until = upload_row(a, upload["uploadId"]).lease_expires_at
        assert leased_until is not None
        eventually(lambda: utcnow() > leased_until, what="past the lease taken before the probe")
        # The client retries its last PATCH (its first answer timed out) through API B.
        retry = tus_patch(on(b, url), len(data), b"")
        assert retry.status_code in (409, 423), retry.text
    finally:
        release.set()
        first.join(120)
    assert answers == [204]
    done = get_upload(a, read, upload["uploadId"])
    assert done["status"] == "completed"
    key = f"media/{done['mediaId']}/original"
    assert key in bucket_keys(s3_endpoint, bucket)  # the item keeps its original


def test_an_upload_begun_before_uploads_streamed_into_s3_is_refused_cleanly(
    fleet: tuple[Server, Server],  # noqa: F811
) -> None:
    """A row begun by a version that kept tus bytes in a partial file (no multipart upload recorded,
    as the migration leaves in-flight rows): its PATCH is a clear 410, not an internal error."""
    a, _ = fleet
    write, _ = a.account_keys()
    upload = create_upload(a, write)
    url = upload["uploadUrl"]
    assert tus_create(url, 1000).status_code == 201
    with a.sessions() as session, session.begin():
        session.execute(
            update(DirectUpload)
            .where(DirectUpload.public_id == upload["uploadId"])
            .values(source_key=None, storage_upload_id=None, part_size=None, parts=None)
        )
    resp = tus_patch(url, 0, b"x" * 10)
    assert resp.status_code == 410, resp.text
    assert resp.json()["success"] is False
    assert upload_row(a, upload["uploadId"]).lease_holder is None
