"""Upload edge cases: validation boundaries, size limit, truncation, aborts, non-video files."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, start_server, stop_server
from tests.helpers import eventually


def post(server: Server, key: str, clip: Path | None, data: dict[str, str], name: str = "clip.mp4"):
    files = {"file": (name, clip.read_bytes() if clip else b"", "video/mp4")} if clip else None
    with server.client(key) as client:
        return client.post("/api/v1/media/upload", files=files, data=data)


def leftovers(server: Server) -> list[Path]:
    """Temp upload files and stored originals currently on disk."""
    tmp = list(server.settings.tmp_dir.glob("*")) if server.settings.tmp_dir.exists() else []
    media = server.settings.storage_root / "media"
    return tmp + (list(media.rglob("*")) if media.exists() else [])


def media_count(server: Server, key: str) -> int:
    with server.client(key) as client:
        return int(client.get("/api/v1/media").json()["data"]["pagination"]["total"])


@pytest.mark.parametrize(
    ("data", "ok", "field"),
    [
        ({"title": "t" * 255}, True, None),
        ({"title": "t" * 256}, False, "title"),
        ({"title": ""}, False, "title"),
        ({"title": "   "}, False, "title"),
        ({}, False, "title"),
        ({"title": "x", "description": "d" * 1000}, True, None),
        ({"title": "x", "description": "d" * 1001}, False, "description"),
        ({"title": "x", "tags": ("a," * 250)[:500]}, True, None),
        ({"title": "x", "tags": "a" * 501}, False, "tags"),
        ({"title": "x", "encodingProfileId": "abc"}, False, "encodingProfileId"),
        ({"title": "x", "encodingProfileId": "1"}, True, None),
    ],
)
def test_field_boundaries(
    server: Server, clips: dict[str, Path], data: dict, ok: bool, field: str | None
) -> None:
    write, _ = server.account_keys()
    before = leftovers(server)
    resp = post(server, write, clips["mp4"], data)
    if ok:
        assert resp.status_code == 201, resp.text
    else:
        assert resp.status_code == 400, resp.text
        body = resp.json()
        assert body["success"] is False
        assert field in [e["field"] for e in body["errors"]]
        assert media_count(server, write) == 0
        assert leftovers(server) == before


def test_unknown_encoding_profile_is_404_and_nothing_kept(server: Server, clips: dict[str, Path]) -> None:
    write, _ = server.account_keys()
    before = leftovers(server)
    resp = post(server, write, clips["mp4"], {"title": "x", "encodingProfileId": "999999"})
    assert resp.status_code == 404, resp.text
    assert resp.json() == {"success": False, "message": "Unknown encoding profile 999999"}
    assert media_count(server, write) == 0
    assert leftovers(server) == before


def test_several_bad_fields_all_named(server: Server, clips: dict[str, Path]) -> None:
    write, _ = server.account_keys()
    resp = post(server, write, clips["mp4"], {"title": "", "description": "d" * 1001, "tags": "t" * 501})
    assert resp.status_code == 400
    assert {e["field"] for e in resp.json()["errors"]} == {"title", "description", "tags"}


def test_missing_file_is_400(server: Server) -> None:
    write, _ = server.account_keys()
    with server.client(write) as client:
        resp = client.post(
            "/api/v1/media/upload", data={"title": "x", "other": "y"}, files={"notfile": ("a.txt", b"abc")}
        )
        assert resp.status_code == 400
        assert resp.json()["errors"][0]["field"] == "file"
        resp = client.post("/api/v1/media/upload", json={"title": "x"})
        assert resp.status_code == 400


def test_text_file_named_mp4_is_415_and_nothing_kept(server: Server, tmp_path: Path) -> None:
    write, _ = server.account_keys()
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 100)
    before = leftovers(server)
    resp = post(server, write, fake, {"title": "fake"})
    assert resp.status_code == 415
    assert resp.json()["success"] is False
    assert media_count(server, write) == 0
    assert leftovers(server) == before


def test_truncated_mp4_is_415(server: Server, clips: dict[str, Path], tmp_path: Path) -> None:
    write, _ = server.account_keys()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clips["mp4"].read_bytes()[:2000])
    assert post(server, write, broken, {"title": "broken"}).status_code == 415
    assert media_count(server, write) == 0


def test_other_container_accepted_with_its_mime_type(server: Server, clips: dict[str, Path]) -> None:
    write, _ = server.account_keys()
    resp = post(server, write, clips["mkv"], {"title": "mkv"}, name="clip.mkv")
    assert resp.status_code == 201
    media_id = resp.json()["data"]["mediaId"]
    with server.client(write) as client:
        assert client.get(f"/api/v1/media/{media_id}").json()["data"]["mimeType"] == "video/x-matroska"


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("small"), max_upload_bytes=20_000)
    yield srv
    stop_server(srv)


def test_over_limit_is_413_and_partial_file_deleted(small_server: Server, clips: dict[str, Path]) -> None:
    assert clips["mp4"].stat().st_size > 20_000
    write, _ = small_server.account_keys()
    resp = post(small_server, write, clips["mp4"], {"title": "big"})
    assert resp.status_code == 413
    assert resp.json()["success"] is False
    assert leftovers(small_server) == []
    assert media_count(small_server, write) == 0


def test_over_limit_streamed_without_content_length(small_server: Server) -> None:
    """Chunked upload (no Content-Length): the limit is enforced while streaming."""
    write, _ = small_server.account_keys()
    boundary = "XyZ"

    def body() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nbig\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()
        for _ in range(50):
            yield b"\0" * 4096
        yield f"\r\n--{boundary}--\r\n".encode()

    with small_server.client(write) as client:
        resp = client.post(
            "/api/v1/media/upload",
            content=body(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    assert resp.status_code == 413
    assert leftovers(small_server) == []


def test_client_abort_mid_upload_leaves_no_file_and_no_row(server: Server, clips: dict[str, Path]) -> None:
    """The client vanishes once the server has written part of the file: the abort path removes it."""
    write, _ = server.account_keys()
    before = leftovers(server)
    data = clips["mp4"].read_bytes()
    host, port = server.url.removeprefix("http://").split(":")
    boundary = "AbortBoundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nabort\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    request = (
        f"POST /api/v1/media/upload HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {write}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(data) + 1000}\r\n\r\n"
    ).encode()

    def partial_files() -> list[Path]:
        return [p for p in leftovers(server) if p not in before and p.suffix == ".part" and p.stat().st_size]

    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(request + head + data[: len(data) // 2])
        # Only once the server holds part of the file on disk does the abort test anything.
        eventually(partial_files, timeout=30, what="the server writing the partial upload")
    eventually(lambda: leftovers(server) == before, timeout=30, what="the partial upload removed")
    assert media_count(server, write) == 0


def test_body_ending_before_file_part_completes_is_400(server: Server, clips: dict[str, Path]) -> None:
    write, _ = server.account_keys()
    data = clips["mp4"].read_bytes()
    boundary = "B0und"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nx\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'
    ).encode()
    with server.client(write) as client:
        resp = client.post(
            "/api/v1/media/upload",
            content=body + data[:5000],
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["field"] == "file"
    assert media_count(server, write) == 0


def test_full_disk_is_507_and_leaves_nothing(tmp_path: Path) -> None:
    """The temp folder on a 64 KiB tmpfs: the upload fails cleanly instead of a 500."""
    from tests.conftest import make_clip

    srv = start_server(tmp_path / "data")
    tmp = srv.settings.tmp_dir
    tmp.mkdir(parents=True, exist_ok=True)
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(tmp)], capture_output=True
        ).returncode
        != 0
    ):
        stop_server(srv)
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        clip = make_clip(tmp_path / "big.mp4", seconds=3, size="320x240")
        assert clip.stat().st_size > 64 * 1024
        write, _ = srv.account_keys()
        resp = post(srv, write, clip, {"title": "full"})
        assert resp.status_code == 507
        assert resp.json() == {"success": False, "message": "The server has no space left for this upload"}
        assert list(tmp.iterdir()) == []
        assert media_count(srv, write) == 0
    finally:
        subprocess.run(["umount", str(tmp)], check=False)
        stop_server(srv)


def test_parallel_uploads_with_the_same_new_tag_succeed(server: Server, clips: dict[str, Path]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    write, _ = server.account_keys()

    def upload_round(round_: int) -> list[int]:
        data = [{"title": f"r{i}", "tags": f"fresh{round_},Shared{round_}"} for i in range(6)]
        with ThreadPoolExecutor(6) as pool:
            return [r.status_code for r in pool.map(lambda d: post(server, write, clips["mp4"], d), data)]

    for round_ in range(3):
        assert upload_round(round_) == [201] * 6
    with server.client(write) as client:
        found = client.get("/api/v1/media/search", params={"tags": "shared0"}).json()["data"]
    assert found["pagination"]["total"] == 6
    assert {t["name"] for m in found["media"] for t in m["tags"]} == {"fresh0", "Shared0"}


def test_a_repeated_text_field_is_400(server: Server, clips: dict[str, Path]) -> None:
    write, _ = server.account_keys()
    with server.client(write) as client:
        resp = client.post(
            "/api/v1/media/upload",
            data={"title": ["a", "b"]},
            files={"file": ("c.mp4", clips["mp4"].read_bytes())},
        )
    assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "title"
    assert media_count(server, write) == 0
