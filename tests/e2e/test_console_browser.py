"""The console in a real browser (Playwright driving Debian's Chromium) against a real
`pushgate serve --fake-providers`: sign in, set credentials, register a simulated device,
send from the composer, watch the funnel reach SENT, open the notification, see CONSUMED.

Chromium comes from Debian (`make test` installs it: scripts/ensure-package); Playwright's
own browser downloads are not used. Screenshots go to $PUSHGATE_TEST_ARTIFACTS (or the
test's tmp_path).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.server import free_port, live_server
from tests.e2e.test_fake_providers import KEY_PATTERN

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 15_000  # every wait is a condition with this deadline, never a fixed sleep


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    base = os.environ.get("PUSHGATE_TEST_ARTIFACTS")
    directory = Path(base) / "console-browser" if base else tmp_path / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def browser_page() -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run (as root) scripts/ensure-package {CHROMIUM} chromium"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(WAIT_MS)
            expect.set_options(timeout=WAIT_MS)
            yield page
        finally:
            browser.close()


def test_sign_in_send_to_a_simulated_device_and_see_it_opened(
    tmp_path: Path, browser_page: Page, artifacts: Path
) -> None:
    page = browser_page
    fakes_port = free_port()
    args = ("--fake-providers", "--fakes-port", str(fakes_port))
    with live_server(tmp_path / "data", {}, *args) as server:
        admin_key = KEY_PATTERN.findall(server.log.read_text())[0]
        console = server.base_url + "/console"

        page.goto(console + "/")  # not signed in: the sign-in page
        expect(page).to_have_url(console + "/login")
        page.get_by_label("API key").fill(admin_key)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()

        new_app = page.locator("#new-app")
        new_app.locator("input[name=name]").fill("news")
        new_app.get_by_role("button", name="Create app").click()
        expect(page.get_by_role("heading", name="news")).to_be_visible()

        credentials = page.locator("#credential-form")
        credentials.locator("select[name=provider]").select_option("webpush")
        credentials.locator("input[name=subject]").fill("mailto:ops@example.com")
        credentials.get_by_role("button", name="Save").click()
        expect(page.locator("#message")).to_have_text("webpush: saved")
        expect(page.locator("#credentials")).to_contain_text("public_key")
        page.screenshot(path=str(artifacts / "1-credentials.png"), full_page=True)

        page.goto(console + "/simulator")
        device = page.locator("#new-device")
        device.locator("select[name=platform]").select_option("webpush")
        device.locator("input[name=user]").fill("alice")
        device.get_by_role("button", name="Create device").click()
        phone = page.locator(".phone")
        expect(phone).to_have_count(1)
        expect(phone).to_contain_text("Nothing received yet")

        page.goto(console + "/apps/news/compose")
        page.locator("select[name=target_kind]").select_option("users")
        page.locator("input[name=target_value]").fill("alice")
        page.locator("input[name=title]").fill("Goal!")
        page.locator("textarea[name=body]").fill("2:1")
        page.get_by_role("button", name="Preview payloads").click()
        expect(page.locator("#previews")).to_contain_text("Web Push")
        page.screenshot(path=str(artifacts / "2-preview.png"), full_page=True)
        page.get_by_role("button", name="Send").click()
        expect(page.locator("#count-SENT")).to_have_text("1")  # refreshed live until done
        expect(page.locator("#funnel svg")).to_be_visible()
        page.screenshot(path=str(artifacts / "3-funnel-sent.png"), full_page=True)

        page.goto(console + "/simulator")
        banner = page.locator(".phone .banner")
        expect(banner).to_contain_text("Goal!")
        expect(banner).to_contain_text("2:1")
        expect(banner.locator(".delivery-status")).to_have_text("SENT")
        banner.get_by_role("button", name="Open").click()
        expect(page.locator(".phone .banner .delivery-status")).to_have_text("CONSUMED")
        page.screenshot(path=str(artifacts / "4-simulator-opened.png"), full_page=True)

        page.goto(console + "/apps/news")
        page.locator("table a[href*='/notifications/']").first.click()
        expect(page.locator("#count-CONSUMED")).to_have_text("1")
        page.screenshot(path=str(artifacts / "5-funnel-consumed.png"), full_page=True)
