"""Odd but ordinary bad input answers 4xx in the envelope, never 500 (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.conftest import Server

BIG = str(2**63)


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/api/v1/media", {"params": {"page": "922337203685477580"}}),
        ("GET", "/api/v1/live", {"params": {"page": "100000000000"}}),
        ("GET", "/api/v1/media/search", {"params": {"tags": "a\x00b"}}),
        ("POST", "/api/v1/live", {"json": {"title": "x", "serverId": 2**63}}),
        ("POST", "/api/v1/live", {"json": {"title": "x", "serverId": 2**31}}),
        ("POST", "/api/v1/live", {"json": {"title": "nul\x00title"}}),
        (
            "POST",
            "/api/v1/media/upload",
            {"data": {"title": "x", "encodingProfileId": BIG}, "files": {"file": ("a.mp4", b"x")}},
        ),
        ("POST", "/api/v1/media/upload", {"data": {"title": "nul\x00"}, "files": {"file": ("a.mp4", b"x")}}),
        (
            "POST",
            "/api/v1/encoding-profiles",
            {"json": {"name": "a\x00", "rungs": [{"height": 360, "videoBitrate": 800000}]}},
        ),
        (
            "GET",
            "/api/v1/media/vod_00000000-0000-4000-8000-000000000000/analytics",
            {"params": {"to": "0001-01-01"}},
        ),
        (
            "GET",
            "/api/v1/media/vod_00000000-0000-4000-8000-000000000000/analytics",
            {"params": {"from": "9999-12-31"}},
        ),
    ],
)
def test_bad_input_is_4xx(server: Server, method: str, path: str, kwargs: dict) -> None:
    write, _ = server.account_keys()
    with server.client(write) as client:
        resp = client.request(method, path, **kwargs)
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text)
    assert resp.json()["success"] is False


def test_hook_with_nul_in_the_key_is_refused(server: Server) -> None:
    with server.client() as client:
        for event in ("on_publish", "on_publish_done"):
            resp = client.post(f"/hooks/rtmp/{event}", data={"name": "1_\x00", "app": "live"})
            assert resp.status_code in (200, 403), resp.text  # done: nothing to end; publish: denied
        assert (
            client.post("/hooks/rtmp/on_publish", data={"name": "1_\x00", "app": "live"}).status_code == 403
        )


def test_huge_json_bodies_are_refused_before_parsing(server: Server) -> None:
    body = b'{"title": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    with server.client() as client:  # no key: the body must not be read at all
        resp = client.post("/api/v1/live", content=body, headers={"Content-Type": "application/json"})
        assert resp.status_code == 413 and resp.json()["success"] is False

        def chunked():  # type: ignore[no-untyped-def]
            yield body

        resp = client.post("/api/v1/live", content=chunked(), headers={"Content-Type": "application/json"})
        assert resp.status_code in (400, 413)
