"""The VOD endpoints through a real server: shapes field by field against the seed, and every error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import Server

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
VOD_ID = re.compile(r"^vod_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SEED_SUMMARY_FIELDS = {
    "mediaId",
    "title",
    "description",
    "fileSize",
    "mimeType",
    "encodingStatus",
    "uploadStatus",
    "tags",
    "createdAt",
    "updatedAt",
}
SEED_DETAIL_FIELDS = SEED_SUMMARY_FIELDS | {"originalWidth", "originalHeight"}
ADDITIVE = {"encodingProgress", "duration", "playbackUrl", "thumbnailUrl", "errorMessage", "playbackPolicy"}


def upload(server: Server, key: str, clip: Path, **data: str) -> dict:
    data.setdefault("title", "My Awesome Video")
    with server.client(key) as client:
        resp = client.post(
            "/api/v1/media/upload", files={"file": (clip.name, clip.read_bytes(), "video/mp4")}, data=data
        )
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_upload_answer_matches_seed(server: Server, clips: dict[str, Path]) -> None:
    write, _ = server.account_keys()
    body = upload(
        server,
        write,
        clips["mp4"],
        description="This is a great video",
        tags=" conference , 2024,keynote,,Conference ",
    )
    assert body["success"] is True
    assert body["message"] == "Video uploaded successfully"
    data = body["data"]
    assert set(data) == {
        "mediaId",
        "title",
        "description",
        "fileSize",
        "encodingStatus",
        "tags",
        "uploadedAt",
    }
    assert VOD_ID.match(data["mediaId"])
    assert data["title"] == "My Awesome Video"
    assert data["description"] == "This is a great video"
    assert data["fileSize"] == clips["mp4"].stat().st_size
    assert data["encodingStatus"] == "pending"
    assert data["tags"] == ["conference", "2024", "keynote"]
    assert ISO_MS.match(data["uploadedAt"])


def test_upload_enqueues_one_encode_job(server: Server, clips: dict[str, Path]) -> None:
    from vsrc.tasks.queue import create_huey

    before = create_huey(server.settings).pending_count()
    write, _ = server.account_keys()
    upload(server, write, clips["mp4"])
    assert create_huey(server.settings).pending_count() == before + 1


def test_get_media_matches_seed(server: Server, clips: dict[str, Path]) -> None:
    write, read = server.account_keys()
    media_id = upload(
        server, write, clips["mp4"], title="My Video", description="Video description", tags="conference"
    )["data"]["mediaId"]
    with server.client(read) as client:
        body = client.get(f"/api/v1/media/{media_id}").json()
    assert body["success"] is True
    data = body["data"]
    assert set(data) == SEED_DETAIL_FIELDS | ADDITIVE
    assert data["mediaId"] == media_id
    assert data["title"] == "My Video"
    assert data["description"] == "Video description"
    assert data["mimeType"] == "video/mp4"
    assert data["encodingStatus"] == "pending"
    assert data["uploadStatus"] == "completed"
    assert (data["originalWidth"], data["originalHeight"]) == (160, 120)
    assert data["tags"] == [{"id": data["tags"][0]["id"], "name": "conference", "color": "#6c757d"}]
    assert isinstance(data["tags"][0]["id"], int)
    assert ISO_MS.match(data["createdAt"]) and ISO_MS.match(data["updatedAt"])
    assert data["encodingProgress"] == 0
    assert data["duration"] == pytest.approx(1.0, abs=0.2)
    assert data["playbackUrl"] is None and data["errorMessage"] is None


def test_list_shape_pagination_and_filter(server: Server, clips: dict[str, Path]) -> None:
    write, read = server.account_keys()
    ids = [upload(server, write, clips["mp4"], title=f"v{i}")["data"]["mediaId"] for i in range(5)]
    with server.client(read) as client:
        body = client.get("/api/v1/media", params={"page": 2, "limit": 2}).json()
        assert body["success"] is True
        assert set(body["data"]) == {"media", "pagination"}
        assert body["data"]["pagination"] == {"page": 2, "limit": 2, "total": 5, "totalPages": 3}
        item = body["data"]["media"][0]
        assert set(item) == SEED_SUMMARY_FIELDS | ADDITIVE
        # Newest first: page 2 holds the 3rd and 4th newest.
        assert [m["mediaId"] for m in body["data"]["media"]] == ids[::-1][2:4]
        default = client.get("/api/v1/media").json()["data"]
        assert default["pagination"] == {"page": 1, "limit": 20, "total": 5, "totalPages": 1}
        pending = client.get("/api/v1/media", params={"encodingStatus": "pending"}).json()["data"]
        assert pending["pagination"]["total"] == 5
        done = client.get("/api/v1/media", params={"encodingStatus": "completed"}).json()["data"]
        assert done == {"media": [], "pagination": {"page": 1, "limit": 20, "total": 0, "totalPages": 0}}


def test_delete_removes_row_links_and_files(server: Server, clips: dict[str, Path]) -> None:
    write, _ = server.account_keys()
    media_id = upload(server, write, clips["mp4"], tags="gone")["data"]["mediaId"]
    folder = server.settings.storage_root / "media" / media_id
    assert any(folder.iterdir())
    with server.client(write) as client:
        resp = client.delete(f"/api/v1/media/{media_id}")
        assert resp.status_code == 200
        assert resp.json() == {
            "success": True,
            "message": "Media deleted successfully",
            "data": {"mediaId": media_id},
        }
        assert client.get(f"/api/v1/media/{media_id}").status_code == 404
        assert client.delete(f"/api/v1/media/{media_id}").status_code == 404
        search = client.get("/api/v1/media/search", params={"tags": "gone"}).json()["data"]
        assert search["pagination"]["total"] == 0
    assert not folder.exists()
    from sqlalchemy import text

    with server.sessions() as conn:
        links = conn.execute(
            text(
                "SELECT count(*) FROM media_tags mt LEFT JOIN media m ON m.id = mt.media_id"
                " WHERE m.id IS NULL"
            )
        ).scalar()
    assert links == 0


def test_embed_for_vod_and_live(server: Server, clips: dict[str, Path]) -> None:
    write, read = server.account_keys()
    media_id = upload(server, write, clips["mp4"], title="My Video", description="Video description")["data"][
        "mediaId"
    ]
    with server.client(read) as client:
        data = client.get(f"/api/v1/media/{media_id}/embed").json()["data"]
    assert set(data) == {"mediaId", "title", "description", "playerType", "encodingStatus", "embedCode"}
    assert data["playerType"] == "vod" and data["encodingStatus"] == "pending"
    code = data["embedCode"]
    assert '<video id="vod-player-' in code and 'class="video-js vjs-default-skin" controls></video>' in code
    assert '<script src="http://localhost:8000/player/dist/vsrc-player.js"></script>' in code
    assert f"type: 'vod',\n    mediaId: '{media_id}'" in code
    assert "onReady: (playerInstance)" in code and "onError: (error)" in code
    with server.client(write) as client:
        live_id = client.post("/api/v1/live", json={"title": "Live"}).json()["data"]["mediaId"]
        live = client.get(f"/api/v1/media/{live_id}/embed").json()["data"]
    assert live["playerType"] == "live" and f"mediaId: '{live_id}'" in live["embedCode"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/media/not-an-id", "mediaId"),
        ("/api/v1/media/vod_XYZ", "mediaId"),
        ("/api/v1/media/live_abc", "mediaId"),
        ("/api/v1/media/vod_zz/embed", "mediaId"),
    ],
)
def test_malformed_media_id_is_400(server: Server, path: str, field: str) -> None:
    _, read = server.account_keys()
    with server.client(read) as client:
        resp = client.get(path)
    assert resp.status_code == 400
    body = resp.json()
    assert body["success"] is False and body["errors"][0]["field"] == field


def test_unknown_media_is_404_envelope(server: Server) -> None:
    _, read = server.account_keys()
    with server.client(read) as client:
        for path in (
            "/api/v1/media/vod_00000000-0000-4000-8000-000000000000",
            "/api/v1/media/live_00000000-0000-4000-8000-000000000000/embed",
        ):
            resp = client.get(path)
            assert resp.status_code == 404
            assert resp.json()["success"] is False and resp.json()["message"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": 0}, "page"),
        ({"page": -1}, "page"),
        ({"page": "x"}, "page"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"encodingStatus": "done"}, "encodingStatus"),
    ],
)
def test_list_query_validation(server: Server, params: dict, field: str) -> None:
    _, read = server.account_keys()
    with server.client(read) as client:
        resp = client.get("/api/v1/media", params=params)
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["field"] == field


def test_list_limit_boundaries_accepted(server: Server) -> None:
    _, read = server.account_keys()
    with server.client(read) as client:
        for limit in (1, 100):
            assert client.get("/api/v1/media", params={"limit": limit}).status_code == 200


def test_openapi_and_docs_and_health(server: Server) -> None:
    with server.client() as client:
        spec = client.get("/openapi.json").json()
        assert "/api/v1/media/upload" in spec["paths"]
        assert "/api/v1/media/search" in spec["paths"]
        assert "/api/v1/live" in spec["paths"]
        upload_body = spec["paths"]["/api/v1/media/upload"]["post"]["requestBody"]
        assert "multipart/form-data" in upload_body["content"]
        assert client.get("/docs").status_code == 200
        health = client.get("/health").json()
        assert health["status"] == "degraded"  # no worker runs beside this test server
        assert health["reasons"] == ["no worker is running: encodes wait"]
        assert client.get("/nope").json() == {"success": False, "message": "Not found"}
