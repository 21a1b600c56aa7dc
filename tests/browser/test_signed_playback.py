"""A signed upload, really encoded, played in Debian chromium from another origin: with a token the
embed code plays (every playlist, segment and poster request carrying it); without one the player
reports PLAYBACK_DENIED and nothing is served."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Request, Response

from tests.browser.conftest import ARTIFACTS, PageOrigin, require_chromium, wait_for
from tests.conftest import (
    Server,
    free_port,
    make_clip,
    start_server,
    start_worker,
    stop_server,
    stop_worker,
    upload_file,
    wait_for_status,
)
from vsrc.services.tokens import load_private_key, sign_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def signed_vod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, str, str]]:
    """(server, read key, media id, token for v+t+s) of a completed signed upload."""
    require_chromium()
    port = free_port()
    srv = start_server(tmp_path_factory.mktemp("signed"), port=port, public_url=f"http://127.0.0.1:{port}")
    worker = start_worker(srv.settings)
    try:
        clip = make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=8, size="640x360", rate=30)
        write, read = srv.account_keys()
        media_id = upload_file(srv, write, clip, title="signed", playbackPolicy="signed")
        data, _ = wait_for_status(srv, read, media_id, timeout=90)
        assert data["encodingStatus"] == "completed" and data["playbackPolicy"] == "signed", data
        with srv.client(write) as client:
            pem = client.post("/api/v1/signing-keys").json()["data"]["privateKey"]
        token = sign_token(
            load_private_key(pem)[0], media_id=media_id, expires_in=3600, audience=["v", "t", "s"]
        )
        yield srv, read, media_id, token
    finally:
        stop_worker(worker)
        stop_server(srv)


def page_with(server: Server, key: str, media_id: str, token: str | None) -> str:
    params = {"token": token} if token else {}
    with server.client(key) as client:
        code = client.get(f"/api/v1/media/{media_id}/embed", params=params).json()["data"]["embedCode"]
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8"><title>customer page</title>\n'
        '<link rel="icon" href="data:,"></head>\n'
        f'<body>\n<div style="width: 640px">\n{code}</div>\n</body></html>\n'
    )


def test_signed_vod_plays_with_a_token(
    signed_vod: tuple[Server, str, str, str], page_origin: PageOrigin, browser_context: BrowserContext
) -> None:
    server, read, media_id, token = signed_vod
    page = browser_context.new_page()
    failures: list[str] = []
    delivery: list[str] = []

    def on_request(request: Request) -> None:
        if f"/{media_id}/" in request.url or "/hls/resolve/" in request.url:
            delivery.append(request.url)

    def on_response(response: Response) -> None:
        if response.status >= 400:
            failures.append(f"{response.status} {response.url}")

    page.on("request", on_request)
    page.on("response", on_response)
    page.on("pageerror", lambda exc: failures.append(f"pageerror: {exc}"))
    page.goto(page_origin.add("/signed.html", page_with(server, read, media_id, token)))
    wait_for(page, "typeof player !== 'undefined' && player.getQualities().length > 0", "the renditions")
    page.evaluate("player.play()")
    wait_for(page, "player.currentTime() > 3", "signed playback past 3 s")
    assert page.evaluate("player.isPlaying()") is True
    wait_for(page, "player.getPlayer().poster() !== ''", "the signed poster")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-signed-playing.png"))
    page.close()
    assert failures == [], failures
    kinds = {".m3u8", ".ts", ".m4s", "poster.jpg", "/hls/resolve/"}
    seen = {kind for url in delivery for kind in kinds if kind in url}
    assert {".m3u8", "poster.jpg", "/hls/resolve/"} <= seen and seen & {".ts", ".m4s"}, delivery
    assert all(f"token={token}" in url for url in delivery), [u for u in delivery if "token=" not in u]


def test_signed_vod_without_a_token_is_refused(
    signed_vod: tuple[Server, str, str, str], page_origin: PageOrigin, browser_context: BrowserContext
) -> None:
    server, read, media_id, _token = signed_vod
    page = browser_context.new_page()
    served: list[str] = []
    page.on("response", lambda r: served.append(r.url) if r.ok and f"/{media_id}/" in r.url else None)
    page.goto(page_origin.add("/unsigned.html", page_with(server, read, media_id, None)))
    wait_for(page, "typeof player !== 'undefined' && player.lastError !== null", "the player's error")
    assert page.evaluate("player.lastError.code") == "PLAYBACK_DENIED"
    assert "token is required" in page.evaluate("player.lastError.message")
    page.close()
    assert served == [], served
