"""Helpers of the dashboard's browser tests: axe-core on every page, screenshots at phone and desktop
widths, signing in through the forms."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS

AXE = Path(__file__).resolve().parents[2] / "player" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ARTIFACTS / "dashboard"
WIDTHS = {"desktop": (1440, 900), "phone": (375, 812)}


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
              .map(v => ({id: v.id, impact: v.impact, help: v.help,
                          nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    return result


def check_page(page: Page, name: str) -> None:
    """axe-core at both widths (zero serious/critical) and a full-page screenshot at each."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        violations = axe_violations(page)
        assert not violations, f"{name} at {label} width: {violations}"
    page.set_viewport_size({"width": 1440, "height": 900})


def sign_up(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Library")).to_be_visible()


def sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def media_id_in(url: str) -> str:
    match = re.search(r"/media/(vod_[0-9a-f-]+)", url)
    assert match, url
    return match.group(1)
