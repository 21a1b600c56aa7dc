"""``Storage.readable``: ffmpeg and PyAV read a stored object without a local copy (on S3 a presigned
URL read with range requests), on both backends."""

from __future__ import annotations

import subprocess
import traceback
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import av
import httpx
import pytest

from tests.conftest import make_clip
from tests.storage.backends import Backend, remote
from vsrc.errors import NotFound
from vsrc.media.commands import ffmpeg_exe, input_args
from vsrc.media.errors import ProbeError, SourceReadError
from vsrc.media.probe import probe

KEY = "media/vod_r/original.mp4"


@pytest.fixture
def stored_clip(backend: Backend, tmp_path: Path) -> Path:
    clip = make_clip(tmp_path / "clip.mp4", seconds=2, size="320x240", rate=25, extra=["-g", "10"])
    keep = tmp_path / "kept.mp4"
    keep.write_bytes(clip.read_bytes())
    backend.storage.put_file(KEY, clip)  # consumes clip
    return keep


def test_pyav_probes_through_it(backend: Backend, stored_clip: Path) -> None:
    with backend.storage.readable(KEY) as where:
        assert where.startswith("http://") if remote(backend) else Path(where).is_file()
        info = probe(where)
    assert (info.width, info.height, info.has_audio) == (320, 240, True)
    assert info.mime_type == "video/mp4"
    assert info.duration == pytest.approx(probe(stored_clip).duration)


def test_ffmpeg_decodes_through_it(backend: Backend, stored_clip: Path) -> None:
    with backend.storage.readable(KEY) as where:
        done = subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-nostdin", *input_args(where), "-map", "0:v", "-f", "md5", "-"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    direct = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", *input_args(stored_clip), "-map", "0:v", "-f", "md5", "-"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.startswith("MD5=") and done.stdout == direct.stdout  # every frame, the same


def test_a_seek_reads_from_the_middle(backend: Backend, stored_clip: Path) -> None:
    with backend.storage.readable(KEY) as where, av.open(where) as container:
        stream = container.streams.video[0]
        container.seek(int(1.2 / stream.time_base), stream=stream)
        frame = next(container.decode(stream))
        assert frame.time is not None and frame.time >= 0.9


def test_a_missing_object_is_not_found(backend: Backend) -> None:
    with pytest.raises(NotFound), backend.storage.readable("media/vod_r/missing.mp4"):
        pass


def test_a_deleted_object_cannot_be_probed(backend: Backend, stored_clip: Path) -> None:
    """The URL handed out names the object, not a copy: once it is gone, a reader gets 404."""
    with backend.storage.readable(KEY) as where:
        backend.storage.delete_prefix("media/vod_r")
        with pytest.raises(FileNotFoundError):
            probe(where)


def _whole_text(exc: BaseException) -> str:
    """What ``log.exception`` would print: the exception with its causes and contexts."""
    return "".join(traceback.format_exception(exc))


@pytest.mark.parametrize("case", ["deleted", "not video"])
def test_a_failed_probe_of_a_url_never_carries_the_signature(
    backend: Backend, stored_clip: Path, case: str
) -> None:
    """A presigned URL is a credential: the error a failed probe raises (and every exception chained
    to it, which a log prints) names neither the URL's query nor its signature."""
    if not remote(backend):
        pytest.skip("local storage hands out paths, not signed URLs")
    if case == "not video":
        backend.storage.put_bytes(KEY, b"not a video at all " * 1000)
    with backend.storage.readable(KEY) as where:
        signature = parse_qs(urlsplit(where).query)["X-Amz-Signature"][0]
        if case == "deleted":
            backend.storage.delete_prefix("media/vod_r")
        with pytest.raises((FileNotFoundError, ProbeError, SourceReadError)) as caught:
            probe(where)
    text = _whole_text(caught.value)
    assert signature not in text and "X-Amz-" not in text, text


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("index.m3u8", "application/vnd.apple.mpegurl"),
        ("seg_00001.ts", "video/mp2t"),
        ("seg_00001.m4s", "video/iso.segment"),
        ("init.mp4", "video/mp4"),
        ("poster.jpg", "image/jpeg"),
        ("storyboard.vtt", "text/vtt; charset=utf-8"),
    ],
)
def test_stored_objects_are_served_with_their_type(
    backend: Backend, tmp_path: Path, name: str, kind: str
) -> None:
    """What a presigned URL or a CDN in front of the bucket serves carries the right Content-Type,
    whether the object was stored by put_file or published by a stage."""
    if not remote(backend):
        pytest.skip("local files have no stored type (the API sets it when it serves them)")
    storage = backend.storage
    source = tmp_path / name
    source.write_bytes(b"x" * 100)
    storage.put_file(f"hls/vod_t/{name}", source)
    with storage.stage("hls/vod_u") as stage:
        (stage.path / name).write_bytes(b"y" * 100)
    for key in (f"hls/vod_t/{name}", f"hls/vod_u/{name}"):
        with storage.readable(key) as url:
            answer = httpx.get(url, timeout=30)
        assert answer.status_code == 200 and answer.headers["content-type"] == kind, key
