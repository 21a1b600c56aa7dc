"""The dashboard's Live page in chromium with a real RTMP ingest and ffmpeg publisher; a second user of
another account sees none of the first one's things; a form without its CSRF token is refused."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import require_chromium, wait_for
from tests.browser.dashboard import check_page, nav, sign_in, sign_up
from tests.conftest import free_port, start_server, start_worker, stop_server, stop_worker
from tests.live.conftest import LiveStack, publish, start_ingest, stop_ingest
from vsrc.db.session import transaction
from vsrc.services.users import create_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    require_chromium()
    port = free_port()
    srv = start_server(tmp_path_factory.mktemp("dash-live"), port=port, public_url=f"http://127.0.0.1:{port}")
    worker = start_worker(srv.settings)
    live = start_ingest(srv)
    yield live
    stop_ingest(live)
    stop_worker(worker)
    stop_server(srv)


def test_live_stream_from_creation_to_preview_and_recording(
    stack: LiveStack, browser_context: BrowserContext
) -> None:
    base = stack.server.url
    page = browser_context.new_page()
    sign_up(page, base, "live@example.com", PASSWORD)
    nav(page, "Live")
    check_page(page, "live-empty")
    page.get_by_label("Title").fill("Studio A")
    page.get_by_role("button", name="Create live stream").click()
    stream = page.get_by_test_id("live-stream").filter(has_text="Studio A")
    expect(stream.get_by_test_id("live-status")).to_have_attribute("data-status", "idle")
    first_key = stream.get_by_label("Stream key", exact=True).input_value()
    assert stream.get_by_label("RTMP URL", exact=True).input_value() == stack.server.settings.rtmp_public_url
    stream.get_by_text("OBS instructions").click()
    expect(stream.get_by_text("Settings → Stream")).to_be_visible()
    check_page(page, "live-idle")

    page.once("dialog", lambda dialog: dialog.accept())
    stream.get_by_role("button", name="Reset key").click()
    expect(page.get_by_role("status").filter(has_text="New stream key issued")).to_be_visible()
    key = stream.get_by_label("Stream key", exact=True).input_value()
    assert key != first_key and key.startswith("1_")

    stream_id = stream.get_attribute("id")
    publisher = publish(stack.rtmp_url(key), seconds=40)
    try:
        # The badge polls and reloads the page when the stream goes live: the preview appears.
        expect(stream.get_by_test_id("live-status")).to_have_attribute("data-status", "live", timeout=60_000)
        wait_for(page, f"window.dashboardPlayers && !!dashboardPlayers['{stream_id}']", "the preview player")
        wait_for(
            page,
            f"dashboardPlayers['{stream_id}'].play(), dashboardPlayers['{stream_id}'].currentTime() > 1",
            "the live preview playing",
            timeout=60,
        )
        check_page(page, "live-on-air")
    finally:
        publisher.terminate()
        publisher.wait(timeout=30)
    expect(stream.get_by_test_id("live-status")).to_have_attribute("data-status", "ended", timeout=60_000)
    recording = stream.get_by_role("link", name="Studio A")
    expect(recording).to_be_visible(timeout=60_000)
    check_page(page, "live-ended")


def test_another_account_sees_nothing_of_it(stack: LiveStack, browser_context: BrowserContext) -> None:
    base = stack.server.url
    with transaction(stack.server.sessions) as session:
        create_user(session, email="other@example.com", password=PASSWORD)  # as `vsrc users create`
    owner = browser_context.new_page()
    sign_in(owner, base, "live@example.com", PASSWORD)
    nav(owner, "Live")
    stream_id = owner.get_by_test_id("live-stream").first.get_attribute("id")
    recording_href = owner.get_by_test_id("live-stream").first.get_by_role("link").first.get_attribute("href")
    assert stream_id and recording_href
    owner_cookies = browser_context.cookies()
    browser_context.clear_cookies()

    page = browser_context.new_page()
    sign_in(page, base, "other@example.com", PASSWORD)
    expect(page.get_by_text("No videos yet")).to_be_visible()
    nav(page, "Live")
    expect(page.get_by_text("No live streams yet")).to_be_visible()
    nav(page, "API keys")
    expect(page.get_by_text("No keys yet")).to_be_visible()
    for path in (recording_href, f"/live/{stream_id}/status", recording_href + "/card"):
        resp = page.goto(base + path)
        assert resp is not None and resp.status == 404, path
    check_page(page, "not-found")
    resp = page.request.post(f"{base}/live/{stream_id}/reset-key", form={"csrf_token": page_csrf(page)})
    assert resp.status == 404
    browser_context.add_cookies(owner_cookies)


def page_csrf(page: Page) -> str:
    return str(page.evaluate("document.querySelector('input[name=csrf_token]').value"))


def test_a_form_posted_without_its_csrf_token_is_refused(
    stack: LiveStack, browser_context: BrowserContext
) -> None:
    base = stack.server.url
    browser_context.clear_cookies()
    page = browser_context.new_page()
    sign_in(page, base, "live@example.com", PASSWORD)
    nav(page, "API keys")
    page.get_by_label("Name").fill("no token")
    page.evaluate("document.querySelector('form[action=\"/keys\"] input[name=csrf_token]').remove()")
    with page.expect_response(f"{base}/keys") as answer:
        page.get_by_role("button", name="Create key").click()
    assert answer.value.status == 403
    expect(page.get_by_role("alert")).to_contain_text("CSRF")
    check_page(page, "csrf-refused")
    listed = httpx.get(f"{base}/keys", cookies={c["name"]: c["value"] for c in browser_context.cookies()})
    assert "no token" not in listed.text
