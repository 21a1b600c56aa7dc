"""Real-browser fixtures: Debian chromium driven by Playwright, and a second origin serving pages."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.conftest import Server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--autoplay-policy=no-user-gesture-required",
]


def require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium): apt-get install chromium")


class PageOrigin:
    """A tiny HTTP server on its own port: pages served from it are cross-origin to the API."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def add(self, path: str, html: str) -> str:
        self.pages[path] = html.encode()
        return self.url + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def page_origin() -> Iterator[PageOrigin]:
    origin = PageOrigin()
    yield origin
    origin.close()


@pytest.fixture
def browser_context(tmp_path: Path) -> Iterator[BrowserContext]:
    """A headless chromium context with a persistent profile in tmp_path (not --user-data-dir)."""
    require_chromium()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            yield context
        finally:
            context.close()


def embed_page(server: Server, key: str, media_id: str) -> str:
    with server.client(key) as client:
        code = client.get(f"/api/v1/media/{media_id}/embed").json()["data"]["embedCode"]
    assert f"{server.url}/player/dist/vsrc-player.js" in code
    # The embed code declares `const player = new VSRCPlayer(...)`: a global lexical binding, not
    # window.player, still reachable from page.evaluate("player").
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8"><title>customer page</title>\n'
        '<link rel="icon" href="data:,"></head>\n'
        f'<body>\n<h1>Our video</h1>\n<div style="width: 640px">\n{code}</div>\n</body></html>\n'
    )


def wait_for(page: Page, expression: str, what: str, timeout: float = 20) -> Any:
    try:
        return page.wait_for_function(expression, timeout=timeout * 1000).json_value()
    except PlaywrightTimeout as exc:  # say what did not happen, with the player's state
        state = page.evaluate(
            "() => { const p = typeof player !== 'undefined' && player.getPlayer();"
            " return p && {t: p.currentTime(), h: p.videoHeight(), paused: p.paused(), err: p.error(),"
            " q: player.getQualities(), rs: p.readyState()}; }"
        )
        raise AssertionError(f"{what} did not happen in {timeout}s; player state {state}") from exc


def analytics_of(server: Server, key: str, media_id: str) -> dict[str, Any]:
    with server.client(key) as client:
        resp = client.get(f"/api/v1/media/{media_id}/analytics")
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()["data"]
    return data
