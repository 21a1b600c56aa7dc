"""The dashboard in Debian chromium, as a person uses it: sign up, sign in, a video from upload to
playback, embed code, delete; axe-core and screenshots on every page (test-artifacts/dashboard/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import require_chromium, wait_for
from tests.browser.dashboard import check_page, media_id_in, nav, sign_in, sign_up
from tests.conftest import (
    Server,
    free_port,
    make_clip,
    start_server,
    start_worker,
    stop_server,
    stop_worker,
    upload_file,
)
from tests.helpers import eventually
from tests.webhooks.receiver import Receiver
from vsrc.webhooks import verify_signature

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that knows its public URL, with a real encoding worker; sign-up closed after one user."""
    require_chromium()
    port = free_port()
    srv = start_server(
        tmp_path_factory.mktemp("dash"),
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        webhook_allow_private=True,  # the test's receiver is on loopback
    )
    worker = start_worker(srv.settings, VSRC_WEBHOOK_ALLOW_PRIVATE="true")
    yield srv
    stop_worker(worker)
    stop_server(srv)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "dash.mp4", seconds=8, size="640x360", rate=30)


def test_first_user_signs_up_and_signs_in(stack: Server, browser_context: BrowserContext) -> None:
    page = browser_context.new_page()
    page.goto(stack.url + "/")
    expect(page).to_have_url(f"{stack.url}/login?next=/")
    check_page(page, "login")
    page.get_by_role("link", name="Create an account").click()
    check_page(page, "signup")
    sign_up(page, stack.url, "owner@example.com", PASSWORD)
    check_page(page, "library-empty")
    nav(page, "Sign out")
    expect(page).to_have_url(f"{stack.url}/login")

    sign_in(page, stack.url, "owner@example.com", "wrong password!")
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password")
    check_page(page, "login-refused")
    # Keyboard only: type, Tab, Enter to sign in; Tab through the navigation and Enter to follow a link.
    page.goto(stack.url + "/login")
    page.get_by_label("Email").focus()
    page.keyboard.type("owner@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Library")).to_be_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "API keys":
            break
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{stack.url}/keys")


def create_key_in_ui(page: Page, name: str) -> str:
    nav(page, "API keys")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Permission").select_option("write")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_test_id("new-key").inner_text().strip()
    assert key.startswith("vsrc_")
    return key


def test_api_keys_are_shown_once_then_only_by_prefix(stack: Server, browser_context: BrowserContext) -> None:
    page = browser_context.new_page()
    sign_in(page, stack.url, "owner@example.com", PASSWORD)
    key = create_key_in_ui(page, "ci key")
    check_page(page, "keys-new")
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {key}"}) as api:
        assert api.get("/api/v1/media").status_code == 200
    page.goto(stack.url + "/keys")  # the secret is gone, the prefix stays
    expect(page.get_by_test_id("new-key")).to_have_count(0)
    row = page.get_by_test_id("key-row").filter(has_text="ci key")
    expect(row).to_contain_text(key[:17])
    assert key not in page.content()
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_test_id("key-row").filter(has_text="ci key")).to_contain_text("revoked")
    check_page(page, "keys")
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {key}"}) as api:
        assert api.get("/api/v1/media").status_code == 401


def test_signing_keys_show_the_private_key_once(stack: Server, browser_context: BrowserContext) -> None:
    page = browser_context.new_page()
    sign_in(page, stack.url, "owner@example.com", PASSWORD)
    nav(page, "Signing keys")
    page.get_by_role("button", name="Create signing key").click()
    pem = page.get_by_test_id("new-secret").input_value()
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    check_page(page, "signing-keys-new")
    page.goto(stack.url + "/signing-keys")
    expect(page.get_by_test_id("new-secret")).to_have_count(0)
    assert "PRIVATE KEY" not in page.content()
    expect(page.get_by_test_id("signing-key-row")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status").filter(has_text="revoked")).to_be_visible()
    expect(page.get_by_test_id("signing-key-row")).to_have_count(0)
    check_page(page, "signing-keys")


def test_a_video_from_upload_to_playback_embed_and_delete(
    stack: Server, browser_context: BrowserContext, clip: Path, tmp_path: Path
) -> None:
    page = browser_context.new_page()
    sign_in(page, stack.url, "owner@example.com", PASSWORD)
    key = create_key_in_ui(page, "uploader")
    short = make_clip(tmp_path / "short.mp4", seconds=1)

    # Two files at once through Uppy + tus, titles from the file names.
    nav(page, "Upload")
    page.get_by_label("Video files").set_input_files([str(clip), str(short)])
    page.get_by_label("Tags").fill("demo, Keynote")
    expect(page.get_by_role("list", name="Files to upload").get_by_role("listitem")).to_have_count(2)
    check_page(page, "upload")
    page.get_by_role("button", name="Upload", exact=True).click()
    for name in ("dash.mp4", "short.mp4"):
        expect(page.get_by_label(f"Upload progress of {name}")).to_have_attribute(
            "value", "100", timeout=60_000
        )
        expect(page.get_by_role("link", name=f"Open {name}")).to_be_visible(timeout=60_000)
    check_page(page, "upload-done")
    media_id = media_id_in(page.get_by_role("link", name="Open dash.mp4").get_attribute("href") or "")
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {key}"}) as api:
        listed = api.get("/api/v1/media").json()["data"]["media"]
    assert {m["title"] for m in listed} == {"dash", "short"}
    assert all([t["name"] for t in m["tags"]] == ["demo", "Keynote"] for m in listed)

    nav(page, "Library")
    card = page.locator(f"#card-{media_id}")
    # The card updates itself (htmx polling) until the encode completes: no reload here.
    expect(card.get_by_test_id("status")).to_have_attribute("data-status", "completed", timeout=120_000)
    expect(card.locator("img")).to_be_visible()
    expect(card.get_by_role("list", name="Tags")).to_contain_text("Keynote")
    check_page(page, "library")

    card.get_by_role("link", name="dash", exact=True).click()
    assert media_id_in(page.url) == media_id
    wait_for(page, f"window.dashboardPlayers && !!dashboardPlayers['{media_id}']", "the player")
    page.evaluate(f"dashboardPlayers['{media_id}'].play()")
    wait_for(page, f"dashboardPlayers['{media_id}'].currentTime() > 3", "playback past 3 s", timeout=40)
    check_page(page, "media")

    browser_context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.url)
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("status").filter(has_text="Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.get_by_label("Embed code").input_value()
    assert f"mediaId: '{media_id}'" in copied and "vsrc-player.js" in copied

    page.get_by_label("Tags", exact=True).fill("demo, Edited")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Changes saved")).to_be_visible()
    expect(page.get_by_role("list", name="Current tags").get_by_role("listitem")).to_have_text(
        ["demo", "Edited"]
    )
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {key}"}) as api:
        tags = api.get(f"/api/v1/media/{media_id}").json()["data"]["tags"]
    assert [t["name"] for t in tags] == ["demo", "Edited"]
    page.get_by_label("Title").fill("")
    page.get_by_label("Title").evaluate("el => el.removeAttribute('required')")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("title must be 1 to 255 characters")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(f"{stack.url}/?deleted=1")
    expect(page.get_by_role("status").filter(has_text="Video deleted")).to_be_visible()
    assert page.locator(f"#card-{media_id}").count() == 0
    gone = httpx.get(f"{stack.url}/api/v1/media/{media_id}", headers={"Authorization": f"Bearer {key}"})
    assert gone.status_code == 404


def test_a_signed_video_previews_with_a_short_lived_token(
    stack: Server, browser_context: BrowserContext, clip: Path
) -> None:
    page = browser_context.new_page()
    sign_in(page, stack.url, "owner@example.com", PASSWORD)
    key = create_key_in_ui(page, "signed uploads")
    media_id = upload_file(stack, key, clip, title="Members only", playbackPolicy="signed")
    assert httpx.get(f"{stack.url}/hls/resolve/{media_id}").status_code == 403  # no token, no playback
    nav(page, "Library")
    card = page.locator(f"#card-{media_id}")
    expect(card.get_by_test_id("status")).to_have_attribute("data-status", "completed", timeout=120_000)
    wait_for(page, f"document.querySelector('#card-{media_id} img').naturalWidth > 0", "the signed poster")
    card.get_by_role("link", name="Members only").click()
    expect(page.get_by_label("Playback policy")).to_have_value("signed")
    wait_for(page, f"window.dashboardPlayers && !!dashboardPlayers['{media_id}']", "the player")
    page.evaluate(f"dashboardPlayers['{media_id}'].play()")
    wait_for(page, f"dashboardPlayers['{media_id}'].currentTime() > 1", "signed playback", timeout=40)
    page.get_by_label("Playback policy").select_option("public")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Changes saved")).to_be_visible()
    assert httpx.get(f"{stack.url}/hls/resolve/{media_id}").status_code == 200  # public now


def test_webhooks_show_the_secret_once_send_test_and_redeliver(
    stack: Server, browser_context: BrowserContext
) -> None:
    receiver = Receiver().start()
    try:
        page = browser_context.new_page()
        sign_in(page, stack.url, "owner@example.com", PASSWORD)
        nav(page, "Webhooks")
        check_page(page, "webhooks-empty")
        page.get_by_label("URL").fill(receiver.url)
        page.get_by_label("media.completed").check()
        page.get_by_role("button", name="Create webhook").click()
        secret = page.get_by_test_id("new-secret").inner_text().strip()
        assert secret.startswith("whsec_")
        check_page(page, "webhooks-new")
        hook = page.get_by_test_id("webhook").filter(has_text=receiver.url)
        hook.get_by_role("button", name="Send test").click()
        expect(page.get_by_role("status").filter(has_text="Test event queued")).to_be_visible()
        assert secret not in page.content()

        tests = lambda: [r for r in receiver.requests if r.event_type == "webhook.test"]  # noqa: E731
        first = eventually(tests, timeout=60, what="the test event at the receiver")[0]
        assert verify_signature(first.body, first.headers.get("vsrc-signature"), secret)

        def delivered() -> bool:
            page.reload()
            row = page.get_by_test_id("delivery").filter(has_text="webhook.test").first
            return row.get_attribute("data-status") == "delivered"

        eventually(delivered, timeout=60, interval=0.5, what="the delivery shown as delivered")
        check_page(page, "webhooks")
        page.get_by_test_id("delivery").filter(has_text="webhook.test").first.get_by_role(
            "button", name="Redeliver"
        ).click()
        expect(page.get_by_role("status").filter(has_text="Redelivery queued")).to_be_visible()
        eventually(lambda: len(tests()) >= 2, timeout=60, what="the redelivered test event")
        assert tests()[1].event_id == first.event_id  # the same event again
    finally:
        receiver.stop()


def test_an_upload_pauses_and_resumes(stack: Server, browser_context: BrowserContext, clip: Path) -> None:
    page = browser_context.new_page()
    sign_in(page, stack.url, "owner@example.com", PASSWORD)
    nav(page, "Upload")
    # A slow uplink (DevTools throttling), so that the upload is still running when Pause is pressed.
    cdp = browser_context.new_cdp_session(page)
    cdp.send("Network.enable")
    conditions = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 200_000}
    cdp.send("Network.emulateNetworkConditions", conditions)
    page.get_by_label("Video files").set_input_files(str(clip))
    page.get_by_label("Title").fill("Paused once")
    page.get_by_role("button", name="Upload", exact=True).click()
    progress = page.get_by_label("Upload progress of dash.mp4")
    wait_for(page, "document.querySelector('progress').value > 0", "some progress")
    page.get_by_role("button", name="Pause dash.mp4").click()
    expect(page.get_by_text("Paused")).to_be_visible()
    cdp.send("Network.emulateNetworkConditions", {**conditions, "uploadThroughput": -1})
    paused_at = int(progress.get_attribute("value") or 0)
    assert paused_at < 100
    page.get_by_role("button", name="Resume dash.mp4").click()
    expect(progress).to_have_attribute("value", "100", timeout=60_000)
    expect(page.get_by_role("link", name="Open dash.mp4")).to_be_visible(timeout=60_000)
    check_page(page, "upload-resumed")
