"""A real upload, encoded by a real worker, embedded with its embed code on another origin and played
in Debian chromium: playback, the quality menu, a forced rendition, seeking, and the analytics it sends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage

from tests.browser.conftest import ARTIFACTS, PageOrigin, analytics_of, embed_page, require_chromium, wait_for
from tests.conftest import (
    Server,
    bound_socket,
    make_clip,
    start_server,
    start_worker,
    stop_server,
    stop_worker,
    upload_file,
    wait_for_status,
)
from tests.helpers import eventually

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, str]]:
    """A server that knows its public URL, and a completed 640x360 upload: (server, read key, media id)."""
    require_chromium()
    sock = bound_socket()
    public_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    srv = start_server(tmp_path_factory.mktemp("browser"), sock=sock, public_url=public_url)
    worker = start_worker(srv.settings)
    try:
        clip = make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=12, size="640x360", rate=30)
        write, read = srv.account_keys()
        media_id = upload_file(srv, write, clip, title="browser")
        data, _ = wait_for_status(srv, read, media_id, timeout=90)
        assert data["encodingStatus"] == "completed", data
        yield srv, read, media_id
    finally:
        stop_worker(worker)
        stop_server(srv)


def test_embedded_vod_plays_switches_quality_seeks_and_reports(
    encoded: tuple[Server, str, str], page_origin: PageOrigin, browser_context: BrowserContext
) -> None:
    server, read, media_id = encoded
    url = page_origin.add("/watch.html", embed_page(server, read, media_id))
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(f"{msg.text} {msg.location}") if _is_error(msg) else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(url)

    # Resolved through the API from the other origin; both renditions and Auto in the menu.
    wait_for(page, "typeof player !== 'undefined' && player.getQualities().length === 2", "the quality list")
    qualities = page.evaluate("player.getQualities()")
    assert [(q["label"], q["height"]) for q in qualities] == [("360p", 360), ("240p", 240)]
    assert [item["label"] for item in page.evaluate("player.getQualityMenu()")] == ["Auto", "360p", "240p"]
    menu = page.locator(".vsrc-quality-button .vjs-menu-item .vjs-menu-item-text").all_text_contents()
    assert [m.strip() for m in menu] == ["Auto", "360p", "240p"]

    page.evaluate("player.play()")
    wait_for(page, "player.currentTime() > 3", "playback past 3 s")
    assert page.evaluate("player.isPlaying()") is True
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "browser-vod-playing.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000

    # Re-enabling a rendition makes VHS flush and refetch at once (a "fast quality change"), so go
    # through 360p: see test_forced_quality_from_auto_switches for the direct Auto -> 240p path.
    assert page.evaluate("player.setQuality(360)") is True
    assert page.evaluate("player.setQuality(240)") is True
    assert page.evaluate("player.getQuality()") == 240
    wait_for(page, "player.getPlayer().videoHeight() === 240", "the switch to 240p", timeout=10)

    page.evaluate("player.seek(6)")
    wait_for(page, "!player.getPlayer().seeking() && player.currentTime() >= 6", "the seek to 6 s")
    page.evaluate("player.play()")
    wait_for(page, "player.currentTime() > 6.5", "playback after the seek")
    assert page.evaluate("player.analytics.transport.mode") == "ws"
    session_id = page.evaluate("player.sessionId")

    # Leaving the page hands the queue to sendBeacon (text/plain, cross-origin) on pagehide.
    page.close(run_before_unload=True)

    def reported() -> dict:
        data = analytics_of(server, read, media_id)
        counts = data["eventCounts"]
        return data if counts["play"] and counts["seek"] and counts["quality_change"] else {}

    data = eventually(reported, timeout=15, interval=0.25, what="play, seek and quality_change counted")
    counts = data["eventCounts"]
    assert counts["play"] >= 1 and counts["seek"] >= 1 and counts["quality_change"] >= 1, counts
    assert data["views"] == 1 and data["uniqueSessions"] == 1
    assert data["totalWatchTimeSeconds"] > 0
    assert errors == [], errors
    assert session_id


def _is_error(msg: ConsoleMessage) -> bool:
    return msg.type == "error"


def test_forced_quality_from_auto_switches(
    encoded: tuple[Server, str, str], page_origin: PageOrigin, browser_context: BrowserContext
) -> None:
    server, read, media_id = encoded
    page = browser_context.new_page()
    page.goto(page_origin.add("/auto.html", embed_page(server, read, media_id)))
    wait_for(page, "typeof player !== 'undefined' && player.getQualities().length === 2", "the quality list")
    page.evaluate("player.play()")
    wait_for(page, "player.currentTime() > 1", "playback past 1 s")
    # Precondition that makes the outcome deterministic: the whole clip is already buffered.
    wait_for(page, "player.getPlayer().bufferedEnd() >= player.duration() - 0.5", "the full buffer")
    assert page.evaluate("player.getQuality()") == "auto"
    assert page.evaluate("player.setQuality(240)") is True
    wait_for(page, "player.getPlayer().videoHeight() === 240", "the switch to 240p", timeout=5)
