"""A direct upload from a web page on another origin: tus-js-client (npm, the client Uppy's tus plugin
wraps) in Debian chromium sends a real clip in chunks to the one-time URL, with progress events, and
the upload becomes a media item. The same page is refused when the upload was made for another origin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page

from tests.api.tus_helpers import create_upload, get_upload
from tests.browser.conftest import PageOrigin, require_chromium, wait_for
from tests.conftest import Server, free_port, make_clip, start_server, stop_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TUS_JS = Path(__file__).resolve().parent / "tus" / "node_modules" / "tus-js-client" / "dist" / "tus.min.js"
CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_chromium()
    if not TUS_JS.exists():
        pytest.fail(f"{TUS_JS} is missing: `make setup` installs tests/browser/tus (npm ci)")
    port = free_port()
    srv = start_server(tmp_path_factory.mktemp("tusweb"), port=port, public_url=f"http://127.0.0.1:{port}")
    yield srv
    stop_server(srv)


def upload_page() -> str:
    """A customer page: a file input and tus-js-client, told the upload URL by the test."""
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>upload</title>'
        '<link rel="icon" href="data:,"></head><body>\n'
        '<input type="file" id="file" aria-label="Video file">\n'
        f"<script>{TUS_JS.read_text()}</script>\n"
        "<script>\n"
        "window.progress = []; window.result = null;\n"
        "window.startUpload = (endpoint, chunkSize) => {\n"
        "  const file = document.getElementById('file').files[0];\n"
        "  const upload = new tus.Upload(file, {\n"
        "    endpoint, chunkSize, retryDelays: [0, 500, 1000],\n"
        "    metadata: {filename: file.name, filetype: file.type},\n"
        "    onProgress: (sent, total) => window.progress.push([sent, total]),\n"
        "    onSuccess: () => { window.result = {ok: true, url: upload.url}; },\n"
        "    onError: (err) => { window.result = {ok: false, error: String(err),\n"
        "      status: err.originalResponse ? err.originalResponse.getStatus() : null}; },\n"
        "  });\n"
        "  upload.start();\n"
        "};\n"
        "</script></body></html>\n"
    )


def start(page: Page, url: str) -> None:
    page.evaluate(f"window.startUpload({json.dumps(url)}, {CHUNK})")


def test_browser_uploads_with_progress_and_the_media_item_appears(
    server: Server, page_origin: PageOrigin, browser_context: BrowserContext, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path / "from-browser.mp4", seconds=4, size="320x240", rate=25)
    size = clip.stat().st_size
    assert size > 3 * CHUNK
    write, read = server.account_keys()
    upload = create_upload(server, write, title="from the browser", corsOrigin=page_origin.url)
    page = browser_context.new_page()
    page.goto(page_origin.add("/upload.html", upload_page()))
    page.set_input_files("#file", str(clip))
    start(page, upload["uploadUrl"])
    result = wait_for(page, "window.result", "the upload's end", timeout=60)
    assert result == {"ok": True, "url": upload["uploadUrl"]}, result

    progress = page.evaluate("window.progress")
    assert len(progress) >= 3 and all(total == size for _, total in progress)
    assert progress[-1][0] == size
    assert [sent for sent, _ in progress] == sorted(sent for sent, _ in progress)
    done = get_upload(server, read, upload["uploadId"])
    assert done["status"] == "completed" and done["offset"] == size
    with server.client(read) as client:
        media = client.get(f"/api/v1/media/{done['mediaId']}").json()["data"]
    assert media["title"] == "from the browser" and media["fileSize"] == size


def test_a_page_on_another_origin_is_refused(
    server: Server, page_origin: PageOrigin, browser_context: BrowserContext, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path / "elsewhere.mp4", seconds=1)
    write, read = server.account_keys()
    upload = create_upload(server, write, title="not for this page", corsOrigin="https://app.example.com")
    page = browser_context.new_page()
    page.goto(page_origin.add("/other.html", upload_page()))
    page.set_input_files("#file", str(clip))
    start(page, upload["uploadUrl"])
    result = wait_for(page, "window.result", "the refusal", timeout=60)
    assert result["ok"] is False, result
    assert get_upload(server, read, upload["uploadId"])["status"] == "waiting"  # nothing got through
