"""A real ffmpeg RTMP publisher → our ingest → live HLS, embedded on another origin and played live in
Debian chromium; the player's analytics for the live_ id arrive."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import BrowserContext

from tests.browser.conftest import ARTIFACTS, PageOrigin, analytics_of, embed_page, require_chromium, wait_for
from tests.conftest import bound_socket, start_server, stop_server
from tests.helpers import eventually
from tests.live.conftest import LiveStack, publish, start_ingest, stop_ingest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    require_chromium()
    sock = bound_socket()
    public_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = start_server(tmp_path_factory.mktemp("browser-live"), sock=sock, public_url=public_url)
    stack = start_ingest(server)
    try:
        yield stack
    finally:
        stop_ingest(stack)
        stop_server(server)


def test_embedded_live_stream_plays(
    live_stack: LiveStack, page_origin: PageOrigin, browser_context: BrowserContext
) -> None:
    server = live_stack.server
    write, read = server.account_keys()
    live = live_stack.create_live(write, title="Browser live")
    media_id = live["mediaId"]
    publisher = publish(live_stack.rtmp_url(live["streamKey"]), seconds=30, size="854x480")
    try:
        master = server.settings.storage_root / "hls" / media_id / "master.m3u8"

        def playlist_written() -> bool:
            assert publisher.poll() is None, publisher.stderr.read() if publisher.stderr else ""
            return master.exists()

        eventually(playlist_written, timeout=20, interval=0.1, what="the live master playlist")

        page = browser_context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(page_origin.add("/live.html", embed_page(server, read, media_id)))

        # Live autoplays once the probe sees the playlist: source (480p) + the 360p rung.
        wait_for(
            page, "typeof player !== 'undefined' && player.getQualities().length === 2", "the live renditions"
        )
        assert [q["label"] for q in page.evaluate("player.getQualities()")] == ["480p", "360p"]
        assert page.evaluate("player.type") == "live"
        start: Any = wait_for(page, "player.currentTime() > 0 && player.currentTime()", "live playback")
        wait_for(page, f"player.currentTime() > {start} + 2", "2 s of live playback")
        assert page.evaluate("player.duration()") == float("inf")
        assert page.evaluate("player.isPlaying()") is True
        assert page.evaluate("player.getPlayer().videoHeight()") in (360, 480)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "browser-live-playing.png"))
        page.close(run_before_unload=True)

        data = eventually(
            lambda: (d := analytics_of(server, read, media_id))["eventCounts"]["play"] and d,
            timeout=15,
            interval=0.25,
            what="the live play event counted",
        )
        assert data["views"] == 1 and data["eventCounts"]["play"] >= 1, data
        assert errors == [], errors
    finally:
        publisher.terminate()
        publisher.wait(timeout=10)
