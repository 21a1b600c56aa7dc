"""The dashboard at 375 px with what people really type: long words, URLs and names without spaces must
wrap (or scroll inside their table), never widen the page past the phone's screen."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext

from tests.browser.conftest import require_chromium
from tests.conftest import Server, make_clip, start_server, stop_server, upload_file
from tests.web.conftest import page_csrf, sign_up

pytestmark = [pytest.mark.browser]
LONG = "Donaudampfschifffahrtsgesellschaftskapitaensmuetze" * 3


@pytest.fixture(scope="module")
def narrow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_chromium()
    srv = start_server(tmp_path_factory.mktemp("narrow"), webhook_allow_private=True)
    yield srv
    stop_server(srv)


def test_long_names_do_not_widen_pages_at_375_px(
    narrow_server: Server, browser_context: BrowserContext, tmp_path: Path
) -> None:
    client, _ = sign_up(narrow_server)
    token = page_csrf(client, "/keys")
    made = client.post("/keys", data={"name": LONG, "permission": "write", "csrf_token": token})
    match = re.search(r'data-testid="new-key">([^<]+)<', made.text)
    assert made.status_code == 201 and match, made.text
    live = client.post("/live", data={"title": LONG, "description": LONG, "csrf_token": token})
    assert live.status_code == 303, live.text
    hook = client.post(
        "/webhooks",
        data={"url": f"http://127.0.0.1:9/{LONG}", "description": LONG, "csrf_token": token},
    )
    assert hook.status_code == 201, hook.text
    clip = make_clip(tmp_path / "c.mp4")
    media_id = upload_file(narrow_server, match.group(1), clip, title=LONG, description=LONG, tags=LONG[:60])

    browser_context.add_cookies(
        [{"name": name, "value": value, "url": narrow_server.url} for name, value in client.cookies.items()]
    )
    page = browser_context.new_page()
    page.set_viewport_size({"width": 375, "height": 812})
    widths = {}
    for path in ("/", "/live", "/keys", "/webhooks", f"/media/{media_id}"):
        page.goto(narrow_server.url + path)
        assert LONG[:40] in page.content(), path
        widths[path] = page.evaluate("document.documentElement.scrollWidth")
    assert all(width <= 375 for width in widths.values()), widths
