"""Direct uploads through the real app: the REST side (create, get, cancel, validation, isolation) and
the tus 1.0.0 side (creation, offsets, limits, content type, expiry, termination, locking, CORS)."""

from __future__ import annotations

import datetime as dt
import fcntl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from tests.api.tus_helpers import (
    OCTETS,
    TUS,
    account_media,
    create_upload,
    get_upload,
    open_patch,
    partial_file,
    tus_create,
    tus_offset,
    tus_patch,
    upload_row,
)
from tests.conftest import Server, free_port, start_server, stop_server
from tests.helpers import eventually
from vsrc.db.models import DirectUpload

LIMIT = 10 * 1024**3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    srv = start_server(
        tmp_path_factory.mktemp("tus"),
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        upload_sweep_seconds=0.2,
    )
    yield srv
    stop_server(srv)


def started(server: Server, key: str, length: int, **body: object) -> dict:
    upload = create_upload(server, key, **body)
    resp = tus_create(upload["uploadUrl"], length)
    assert resp.status_code == 201, resp.text
    return upload


def uploads_count(server: Server) -> int:
    with server.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(DirectUpload)) or 0)


def test_create_returns_a_one_time_tus_url(server: Server) -> None:
    write, read = server.account_keys()
    before = dt.datetime.now(dt.UTC)
    data = create_upload(server, write, title="hello", tags=["a", "b"], playbackPolicy="signed")
    assert set(data) == {"uploadId", "uploadUrl", "status", "expiresAt"}
    assert data["uploadId"].startswith("upl_") and data["status"] == "waiting"
    assert data["uploadUrl"].startswith(f"{server.url}/tus/")
    assert len(data["uploadUrl"].rsplit("/", 1)[1]) >= 40  # unguessable
    expires = dt.datetime.fromisoformat(data["expiresAt"].replace("Z", "+00:00"))
    assert dt.timedelta(hours=23, minutes=59) < expires - before <= dt.timedelta(hours=24, minutes=1)
    shown = get_upload(server, read, data["uploadId"])
    assert shown["status"] == "waiting" and shown["offset"] == 0 and shown["length"] is None
    assert shown["mediaId"] is None and shown["errorMessage"] is None
    assert shown["expiresAt"] == data["expiresAt"]
    row = upload_row(server, data["uploadId"])
    assert row.playback_policy == "signed" and row.tags == ["a", "b"]
    assert data["uploadUrl"].rsplit("/", 1)[1] not in row.token_hash  # only a hash is stored


def test_unknown_encoding_profile_is_404_like_the_multipart_upload(server: Server) -> None:
    write, _ = server.account_keys()
    before = uploads_count(server)
    with server.client(write) as client:
        resp = client.post("/api/v1/uploads", json={"title": "x", "encodingProfileId": 999999})
    assert resp.status_code == 404, resp.text
    assert uploads_count(server) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "t" * 256}, "title"),
        ({"description": "d"}, "title"),
        ({"title": "x", "description": "d" * 1001}, "description"),
        ({"title": "x", "tags": "a" * 501}, "tags"),
        ({"title": "x", "encodingProfileId": "abc"}, "encodingProfileId"),
        ({"title": "x", "playbackPolicy": "private"}, "playbackPolicy"),
        ({"title": "x", "corsOrigin": "https://app.example.com/path"}, "corsOrigin"),
        ({"title": "x", "corsOrigin": "javascript:alert(1)"}, "corsOrigin"),
        ({"title": "x", "cors_origin": "*"}, "cors_origin"),
    ],
)
def test_create_validates_like_the_multipart_upload(server: Server, body: dict, field: str) -> None:
    write, _ = server.account_keys()
    before = uploads_count(server)
    with server.client(write) as client:
        resp = client.post("/api/v1/uploads", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["success"] is False
    assert field in [e["field"] for e in resp.json()["errors"]]
    assert uploads_count(server) == before


def test_create_needs_a_write_key(server: Server) -> None:
    _, read = server.account_keys()
    with server.client(read) as client:
        assert client.post("/api/v1/uploads", json={"title": "x"}).status_code == 403
    with server.client() as client:
        assert client.post("/api/v1/uploads", json={"title": "x"}).status_code == 401


def test_uploads_are_private_to_their_account(server: Server) -> None:
    write, _ = server.account_keys()
    other_write, other_read = server.account_keys()
    upload = create_upload(server, write)
    with server.client(other_read) as client:
        assert client.get(f"/api/v1/uploads/{upload['uploadId']}").status_code == 404
    with server.client(other_write) as client:
        assert client.delete(f"/api/v1/uploads/{upload['uploadId']}").status_code == 404
    assert get_upload(server, write, upload["uploadId"])["status"] == "waiting"
    with server.client(write) as client:
        assert client.get("/api/v1/uploads/upl_00000000-0000-4000-8000-000000000000").status_code == 404
        assert client.get("/api/v1/uploads/vod_nope").status_code == 400


def test_options_advertises_the_protocol_and_the_limit(server: Server) -> None:
    write, _ = server.account_keys()
    url = create_upload(server, write)["uploadUrl"]
    resp = httpx.options(url)
    assert resp.status_code == 204
    assert resp.headers["tus-version"] == "1.0.0"
    assert resp.headers["tus-max-size"] == str(LIMIT)
    assert set(resp.headers["tus-extension"].split(",")) == {"creation", "termination", "expiration"}


def test_creation_records_the_length_once(server: Server) -> None:
    write, read = server.account_keys()
    upload = create_upload(server, write)
    url = upload["uploadUrl"]
    assert httpx.head(url, headers=TUS).status_code == 404  # nothing to resume before creation
    resp = tus_create(url, 1000, **{"Upload-Metadata": "filename Y2xpcC5tcDQ=,filetype dmlkZW8vbXA0"})
    assert resp.status_code == 201, resp.text
    assert resp.headers["location"] == url
    assert resp.headers["tus-resumable"] == "1.0.0" and "upload-expires" in resp.headers
    assert tus_create(url, 1000).status_code == 201  # a retried creation is harmless
    assert tus_create(url, 999).status_code == 409  # one URL, one upload
    head = httpx.head(url, headers=TUS)
    assert head.headers["upload-offset"] == "0" and head.headers["upload-length"] == "1000"
    assert head.headers["cache-control"] == "no-store"
    shown = get_upload(server, read, upload["uploadId"])
    assert (shown["status"], shown["offset"], shown["length"]) == ("uploading", 0, 1000)
    assert upload_row(server, upload["uploadId"]).filename == "clip.mp4"


def test_length_over_the_limit_is_413_and_at_the_limit_is_accepted(server: Server) -> None:
    write, _ = server.account_keys()
    over = create_upload(server, write)["uploadUrl"]
    resp = tus_create(over, LIMIT + 1)
    assert resp.status_code == 413 and resp.json()["success"] is False
    assert resp.headers["tus-resumable"] == "1.0.0"
    exact = create_upload(server, write)
    assert tus_create(exact["uploadUrl"], LIMIT).status_code == 201
    assert partial_file(server, exact["uploadId"]).stat().st_size == 0  # nothing reserved up front


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Upload-Length": "-1"},
        {"Upload-Length": "abc"},
        {"Upload-Length": b"\xb2"},  # "²" in Latin-1: str.isdigit() says yes, int() says no
        {"Upload-Defer-Length": "1"},
    ],
)
def test_creation_without_a_usable_length_is_400(server: Server, headers: dict[str, str]) -> None:
    write, _ = server.account_keys()
    url = create_upload(server, write)["uploadUrl"]
    assert httpx.post(url, headers={**TUS, **headers}).status_code == 400


def test_creation_with_non_ascii_metadata_is_400(server: Server) -> None:
    write, read = server.account_keys()
    upload = create_upload(server, write)
    headers = {**TUS, "Upload-Length": "10", "Upload-Metadata": b"filename \xe9"}  # "é": not base64
    resp = httpx.post(upload["uploadUrl"], headers=headers)
    assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "Upload-Metadata"
    assert get_upload(server, read, upload["uploadId"])["status"] == "waiting"


def test_requests_without_tus_resumable_are_412(server: Server) -> None:
    write, _ = server.account_keys()
    url = started(server, write, 10)["uploadUrl"]
    resp = httpx.patch(
        url, content=b"x", headers={"Content-Type": OCTETS["Content-Type"], "Upload-Offset": "0"}
    )
    assert resp.status_code == 412 and resp.headers["tus-version"] == "1.0.0"
    assert tus_offset(url) == 0


def test_patch_appends_and_wrong_offsets_are_409(server: Server) -> None:
    write, read = server.account_keys()
    upload = started(server, write, 100)
    url = upload["uploadUrl"]
    resp = tus_patch(url, 0, b"a" * 40)
    assert resp.status_code == 204 and resp.headers["upload-offset"] == "40"
    assert "upload-expires" in resp.headers
    for wrong in (0, 39, 41, 100):
        resp = tus_patch(url, wrong, b"b" * 10)
        assert resp.status_code == 409, wrong
        assert resp.json()["success"] is False
    assert tus_offset(url) == 40
    assert get_upload(server, read, upload["uploadId"])["offset"] == 40
    assert partial_file(server, upload["uploadId"]).read_bytes() == b"a" * 40


def test_patch_with_a_non_ascii_digit_offset_is_400(server: Server) -> None:
    write, _ = server.account_keys()
    url = started(server, write, 10)["uploadUrl"]
    resp = httpx.patch(url, content=b"x", headers={**OCTETS, "Upload-Offset": b"\xb9"})  # "¹"
    assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "Upload-Offset"
    assert tus_offset(url) == 0


def test_patch_with_the_wrong_content_type_is_415(server: Server) -> None:
    write, _ = server.account_keys()
    url = started(server, write, 100)["uploadUrl"]
    for content_type in ("application/octet-stream", "video/mp4", ""):
        resp = httpx.patch(
            url, content=b"x" * 10, headers={**TUS, "Content-Type": content_type, "Upload-Offset": "0"}
        )
        assert resp.status_code == 415, content_type
    assert tus_offset(url) == 0


def test_patch_past_the_declared_length_is_413_and_keeps_the_offset(server: Server) -> None:
    write, _ = server.account_keys()
    upload = started(server, write, 100)
    url = upload["uploadUrl"]
    assert tus_patch(url, 0, b"a" * 60).status_code == 204
    assert tus_patch(url, 60, b"b" * 41).status_code == 413  # declared Content-Length too big

    def chunked() -> Iterator[bytes]:  # no Content-Length: cut off while streaming
        yield b"c" * 30
        yield b"d" * 30

    resp = httpx.patch(url, content=chunked(), headers={**OCTETS, "Upload-Offset": "60"})
    assert resp.status_code == 413
    assert tus_offset(url) == 60
    assert partial_file(server, upload["uploadId"]).read_bytes() == b"a" * 60


def test_a_cut_patch_keeps_the_bytes_received(server: Server) -> None:
    write, read = server.account_keys()
    upload = started(server, write, 1000)
    url = upload["uploadUrl"]
    sock = open_patch(url, 0, declared=1000, first=b"z" * 300)
    try:  # bytes reach the file while the request is still open (HEAD follows a long PATCH)
        eventually(lambda: tus_offset(url) == 300, what="the 300 bytes sent so far on disk")
        assert get_upload(server, read, upload["uploadId"])["offset"] == 300
    finally:
        sock.close()  # the client drops mid-request
    eventually(lambda: tus_patch(url, 300, b"y" * 100).status_code == 204, what="the cut PATCH ended")
    assert tus_offset(url) == 400
    assert partial_file(server, upload["uploadId"]).read_bytes() == b"z" * 300 + b"y" * 100


def test_a_new_patch_takes_over_from_a_stale_one(server: Server) -> None:
    write, _ = server.account_keys()
    upload = started(server, write, 1000)
    url = upload["uploadUrl"]
    stale = open_patch(url, 0, declared=1000, first=b"q" * 100)  # half-open: never sends the rest
    try:
        eventually(lambda: tus_offset(url) == 100, what="the stale PATCH's bytes on disk")
        resp = tus_patch(url, 100, b"s" * 10)  # the client's retry, resuming from HEAD
        assert resp.status_code == 204, resp.text
        assert resp.headers["upload-offset"] == "110"
    finally:
        stale.close()
    assert partial_file(server, upload["uploadId"]).read_bytes() == b"q" * 100 + b"s" * 10


def test_a_writer_in_another_process_is_423(server: Server) -> None:
    write, _ = server.account_keys()
    upload = started(server, write, 100)
    url = upload["uploadUrl"]
    with partial_file(server, upload["uploadId"]).open("ab") as other:  # as another API process would
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        resp = tus_patch(url, 0, b"r" * 10)
        assert resp.status_code == 423 and resp.json()["success"] is False
        fcntl.flock(other.fileno(), fcntl.LOCK_UN)
    assert tus_patch(url, 0, b"r" * 10).status_code == 204


def test_unknown_urls_are_404_on_every_method(server: Server) -> None:
    url = f"{server.url}/tus/not-a-token-of-anyone-0123456789abcdef"
    assert httpx.options(url).status_code == 404
    assert tus_create(url, 10).status_code == 404
    assert httpx.head(url, headers=TUS).status_code == 404
    assert tus_patch(url, 0, b"x").status_code == 404
    assert httpx.delete(url, headers=TUS).status_code == 404


def expire(server: Server, upload_id: str) -> None:
    with server.sessions() as session, session.begin():
        session.execute(
            update(DirectUpload)
            .where(DirectUpload.public_id == upload_id)
            .values(expires_at=dt.datetime(2020, 1, 1))
        )


def test_expired_urls_are_410_and_swept(server: Server) -> None:
    write, read = server.account_keys()
    upload = started(server, write, 100)
    url = upload["uploadUrl"]
    assert tus_patch(url, 0, b"a" * 10).status_code == 204
    waiting = create_upload(server, write)
    expire(server, upload["uploadId"])
    expire(server, waiting["uploadId"])
    assert get_upload(server, read, upload["uploadId"])["status"] == "expired"
    for resp in (
        httpx.head(url, headers=TUS),
        tus_patch(url, 10, b"b"),
        tus_create(waiting["uploadUrl"], 5),
    ):
        assert resp.status_code == 410
    eventually(lambda: upload_row(server, upload["uploadId"]).status == "expired", what="the sweep")
    eventually(lambda: upload_row(server, waiting["uploadId"]).status == "expired", what="the sweep")
    assert not partial_file(server, upload["uploadId"]).exists()
    with server.client(write) as client:
        assert client.delete(f"/api/v1/uploads/{upload['uploadId']}").status_code == 410


def test_tus_termination_cancels_and_removes_the_partial_file(server: Server) -> None:
    write, read = server.account_keys()
    upload = started(server, write, 100)
    url = upload["uploadUrl"]
    assert tus_patch(url, 0, b"a" * 10).status_code == 204
    assert httpx.delete(url).status_code == 412  # termination speaks tus too
    assert httpx.delete(url, headers=TUS).status_code == 204
    assert not partial_file(server, upload["uploadId"]).exists()
    shown = get_upload(server, read, upload["uploadId"])
    assert shown["status"] == "cancelled"
    assert httpx.head(url, headers=TUS).status_code == 404
    assert tus_patch(url, 10, b"b").status_code == 404
    assert httpx.delete(url, headers=TUS).status_code == 404
    assert account_media(server, read) == []


def test_api_cancel_stops_the_url(server: Server) -> None:
    write, read = server.account_keys()
    upload = started(server, write, 100)
    assert tus_patch(upload["uploadUrl"], 0, b"a" * 10).status_code == 204
    with server.client(read) as client:
        assert client.delete(f"/api/v1/uploads/{upload['uploadId']}").status_code == 403
    with server.client(write) as client:
        resp = client.delete(f"/api/v1/uploads/{upload['uploadId']}")
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"]["status"] == "cancelled"
        assert client.delete(f"/api/v1/uploads/{upload['uploadId']}").status_code == 409
    assert not partial_file(server, upload["uploadId"]).exists()
    assert tus_patch(upload["uploadUrl"], 10, b"b").status_code == 404


def test_cors_only_for_the_upload_origin(server: Server) -> None:
    write, _ = server.account_keys()
    app = "https://app.example.com"
    url = started(server, write, 100, corsOrigin=app)["uploadUrl"]
    preflight = {
        "Origin": app,
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "tus-resumable,upload-offset,content-type",
    }
    resp = httpx.options(url, headers=preflight)
    assert resp.status_code == 204
    assert resp.headers["access-control-allow-origin"] == app
    assert "PATCH" in resp.headers["access-control-allow-methods"]
    assert {"upload-offset", "tus-resumable", "content-type"} <= {
        h.strip().lower() for h in resp.headers["access-control-allow-headers"].split(",")
    }
    head = httpx.head(url, headers={**TUS, "Origin": app})
    assert head.headers["access-control-allow-origin"] == app
    exposed = {h.strip().lower() for h in head.headers["access-control-expose-headers"].split(",")}
    assert {"upload-offset", "location", "tus-resumable", "upload-length"} <= exposed
    conflict = tus_patch(url, 7, b"x", Origin=app)  # errors are readable by the page too
    assert conflict.status_code == 409 and conflict.headers["access-control-allow-origin"] == app

    evil = httpx.options(url, headers={**preflight, "Origin": "https://evil.example.com"})
    assert evil.status_code == 403 and "access-control-allow-origin" not in evil.headers
    assert (
        "access-control-allow-origin"
        not in httpx.head(url, headers={**TUS, "Origin": "https://evil.example.com"}).headers
    )
    plain = started(server, write, 100)["uploadUrl"]  # no corsOrigin: same-origin pages and servers only
    assert httpx.options(plain, headers=preflight).status_code == 403
    anyone = started(server, write, 100, corsOrigin="*")["uploadUrl"]
    assert httpx.options(anyone, headers=preflight).headers["access-control-allow-origin"] == "*"


def test_method_override_tunnels_patch(server: Server) -> None:
    write, _ = server.account_keys()
    url = started(server, write, 10)["uploadUrl"]
    resp = httpx.post(
        url, content=b"abc", headers={**OCTETS, "Upload-Offset": "0", "X-HTTP-Method-Override": "PATCH"}
    )
    assert resp.status_code == 204 and resp.headers["upload-offset"] == "3"


def test_nothing_left_behind_in_tmp(server: Server) -> None:
    # Every partial file under tmp/tus belongs to an upload that is still active.
    folder = server.settings.tmp_dir / "tus"
    active = {
        row.public_id
        for row in server.sessions().scalars(select(DirectUpload).where(DirectUpload.status == "uploading"))
    }
    assert {p.name.removesuffix(".part") for p in folder.glob("*")} <= active


def test_openapi_documents_direct_uploads_with_examples(server: Server) -> None:
    with server.client() as client:
        spec = client.get("/openapi.json").json()
    create = spec["paths"]["/api/v1/uploads"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["examples"][0]["corsOrigin"]
    created = spec["components"]["schemas"]["DirectUploadCreateResponse"]["examples"][0]["data"]
    assert set(created) == {"uploadId", "uploadUrl", "status", "expiresAt"}
    assert (
        spec["components"]["schemas"]["DirectUploadResponse"]["examples"][0]["data"]["status"] == "completed"
    )
    assert {"get", "delete"} <= set(spec["paths"]["/api/v1/uploads/{uploadId}"])
    tus_ops = spec["paths"]["/tus/{token}"]
    assert {"options", "post", "head", "patch", "delete"} <= set(tus_ops)
    assert "Upload-Offset" in tus_ops["patch"]["responses"]["204"]["headers"]
    assert {"409", "413", "415", "423", "404", "410"} <= set(tus_ops["patch"]["responses"])


def test_one_patch_of_a_real_clip_becomes_media_with_the_upload_settings(
    server: Server, clips: dict[str, Path]
) -> None:
    write, read = server.account_keys()
    data = clips["mp4"].read_bytes()
    upload = started(server, write, len(data), title="signed one", tags="x,y", playbackPolicy="signed")
    resp = tus_patch(upload["uploadUrl"], 0, data)
    assert resp.status_code == 204 and resp.headers["upload-offset"] == str(len(data))
    done = get_upload(server, read, upload["uploadId"])
    assert done["status"] == "completed" and done["offset"] == done["length"] == len(data)
    with server.client(read) as client:
        media = client.get(f"/api/v1/media/{done['mediaId']}").json()["data"]
    assert media["title"] == "signed one" and media["playbackPolicy"] == "signed"
    assert [t["name"] for t in media["tags"]] == ["x", "y"] and media["fileSize"] == len(data)
    assert httpx.head(upload["uploadUrl"], headers=TUS).headers["upload-offset"] == str(len(data))
    assert tus_patch(upload["uploadUrl"], len(data), b"").status_code == 409  # complete: nothing to add
    assert httpx.delete(upload["uploadUrl"], headers=TUS).status_code == 409  # the media item stays
    with server.client(write) as client:
        assert client.delete(f"/api/v1/uploads/{upload['uploadId']}").status_code == 409
        assert client.get(f"/api/v1/media/{done['mediaId']}").status_code == 200


def test_an_empty_upload_fails_at_creation(server: Server) -> None:
    write, read = server.account_keys()
    upload = create_upload(server, write)
    resp = tus_create(upload["uploadUrl"], 0)  # nothing will follow: this is already the last byte
    assert resp.status_code == 415, resp.text
    shown = get_upload(server, read, upload["uploadId"])
    assert shown["status"] == "failed" and "Unsupported media" in shown["errorMessage"]
    assert not partial_file(server, upload["uploadId"]).exists()
    assert httpx.head(upload["uploadUrl"], headers=TUS).status_code == 410


def test_the_source_pixel_limit_of_the_multipart_upload_applies(
    tmp_path: Path, clips: dict[str, Path]
) -> None:
    port = free_port()
    srv = start_server(
        tmp_path, port=port, public_url=f"http://127.0.0.1:{port}", max_source_pixels=100 * 100
    )
    try:
        write, read = srv.account_keys()
        data = clips["mp4"].read_bytes()  # 160x120: over the limit
        upload = started(srv, write, len(data))
        resp = tus_patch(upload["uploadUrl"], 0, data)
        assert resp.status_code == 415, resp.text
        shown = get_upload(srv, read, upload["uploadId"])
        assert shown["status"] == "failed" and shown["mediaId"] is None
        assert account_media(srv, read) == []
    finally:
        stop_server(srv)
