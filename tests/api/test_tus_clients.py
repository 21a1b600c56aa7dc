"""Real tus clients against the real app and a real worker: tuspy uploads in chunks, the connection
drops mid-PATCH, a new tuspy client resumes from the server's offset, and the media item encodes.
A file that is not a video fails the upload and leaves nothing behind."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tusclient.client import TusClient
from tusclient.exceptions import TusUploadFailed

from tests.api.tus_helpers import (
    account_media,
    create_upload,
    get_upload,
    media_source,
    open_patch,
    partial_file,
    stored_originals,
    tus_offset,
)
from tests.conftest import (
    Server,
    free_port,
    make_clip,
    start_server,
    start_worker,
    stop_server,
    stop_worker,
    wait_for_status,
)
from tests.helpers import eventually

pytestmark = pytest.mark.slow

CHUNK = 32 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    srv = start_server(
        tmp_path_factory.mktemp("tusclients"), port=port, public_url=f"http://127.0.0.1:{port}"
    )
    worker = start_worker(srv.settings)
    yield srv
    stop_worker(worker)
    stop_server(srv)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("tusclip") / "talk.mp4", seconds=4, size="320x240", rate=25)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tuspy_resumes_after_a_dropped_connection_and_the_media_encodes(server: Server, clip: Path) -> None:
    size = clip.stat().st_size
    assert size > 6 * CHUNK, size  # enough chunks to cut in the middle
    write, read = server.account_keys()
    upload = create_upload(server, write, title="resumed", tags="tus,resume")

    # A first client (no API key, only the URL) sends a third of the file in chunks, then stops.
    first = TusClient(upload["uploadUrl"]).uploader(
        str(clip), chunk_size=CHUNK, metadata={"filename": clip.name, "filetype": "video/mp4"}
    )
    first.upload(stop_at=(size // 3 // CHUNK) * CHUNK)
    url = first.url
    assert url == upload["uploadUrl"]
    sent = tus_offset(url)
    assert 0 < sent < size

    # Its next PATCH is cut: half the chunk goes out, then the connection drops.
    data = clip.read_bytes()
    half = data[sent : sent + CHUNK // 2]
    sock = open_patch(url, sent, declared=CHUNK, first=half)
    try:
        eventually(lambda: tus_offset(url) == sent + len(half), what="the half chunk on disk")
    finally:
        sock.close()
    shown = get_upload(server, read, upload["uploadId"])
    assert (shown["status"], shown["offset"], shown["length"]) == ("uploading", sent + len(half), size)

    # A new client knows only the URL: it asks the server for the offset and sends the rest.
    def resumer_starts_at_the_cut() -> object:
        resumer = TusClient(url).uploader(str(clip), chunk_size=CHUNK, url=url)
        return resumer if resumer.offset == sent + len(half) else None

    resumer = eventually(resumer_starts_at_the_cut, what="the cut PATCH released the upload")
    resumer.upload()
    assert resumer.offset == size

    done = get_upload(server, read, upload["uploadId"])
    assert done["status"] == "completed" and done["offset"] == size and done["mediaId"].startswith("vod_")
    assert not partial_file(server, upload["uploadId"]).exists()
    media_id = done["mediaId"]
    assert sha256(media_source(server, media_id)) == sha256(clip)  # every byte once, in order
    media, _ = wait_for_status(server, read, media_id, timeout=180)
    assert media["encodingStatus"] == "completed", media
    assert media["title"] == "resumed" and [t["name"] for t in media["tags"]] == ["tus", "resume"]
    assert media["fileSize"] == size and media["originalWidth"] == 320
    with server.client(read) as client:
        playlist = client.get(f"/hls/{media_id}/master.m3u8")
    assert playlist.status_code == 200 and "#EXT-X-STREAM-INF" in playlist.text


def test_not_a_video_fails_the_upload_and_keeps_nothing(server: Server, tmp_path: Path) -> None:
    junk = tmp_path / "notes.mp4"
    junk.write_bytes(os.urandom(3 * CHUNK + 123))
    write, read = server.account_keys()
    before = stored_originals(server)
    upload = create_upload(server, write, title="junk")
    uploader = TusClient(upload["uploadUrl"]).uploader(str(junk), chunk_size=CHUNK)
    with pytest.raises(TusUploadFailed) as failure:
        uploader.upload()
    assert failure.value.status_code == 415
    shown = get_upload(server, read, upload["uploadId"])
    assert shown["status"] == "failed" and shown["mediaId"] is None
    assert "Unsupported media" in shown["errorMessage"]
    assert account_media(server, read) == []
    assert not partial_file(server, upload["uploadId"]).exists()
    assert stored_originals(server) == before
