"""Every main page in a real browser: the Content-Security-Policy holds (no violation, no
script error), the 375-pixel layout has no horizontal scroll and a usable navigation, the
login form's focus order, and the wording editor's live preview with and without
JavaScript. Screenshots of each page go to tests/browser/artifacts/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, OpenPage, screenshot
from tests.browser.steps import log_in, main_pages

pytestmark = pytest.mark.xdist_group("browser")


def settle(page: Page) -> None:
    """Wait for the page and its frames (the email previews) to finish loading."""
    page.wait_for_load_state("load")
    page.wait_for_load_state("networkidle")


def test_the_content_security_policy_holds_on_every_main_page(open_page: OpenPage) -> None:
    page, console = open_page()
    log_in(page)
    for name, path in main_pages(page).items():
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        settle(page)
        assert "script-src 'self'" in (response.headers.get("content-security-policy") or "")
        screenshot(page, f"desktop-{name}")
        assert console.errors == [], (path, console.errors)
    # The previews' frames really rendered (their own policy allows their inline styles).
    page.goto(main_pages(page)["reminder-preview"])
    frame = page.frame_locator("iframe.email-preview")
    expect(frame.locator("#preview-subject")).not_to_be_empty()
    expect(frame.frame_locator("iframe").locator("p").first).to_be_visible()
    settle(page)
    assert console.csp_violations() == []


def assert_fits_the_phone(page: Page, pages: dict[str, str]) -> None:
    """Each page scrolls only vertically on the phone's screen (a screenshot of each)."""
    for name, path in pages.items():
        page.goto(path)
        settle(page)
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"], (path, width)
        screenshot(page, f"phone-{name}")


def test_a_375_pixel_screen(open_page: OpenPage) -> None:
    page, console = open_page(viewport=PHONE)
    assert_fits_the_phone(page, {"login": "/app/login", "signup": "/app/signup"})
    log_in(page)
    assert_fits_the_phone(page, main_pages(page))
    # The navigation fits, each link is a comfortable target, and it works.
    page.goto("/app")
    links = page.get_by_role("navigation", name="Main").get_by_role("link")
    expect(links).to_have_text(["Dashboard", "Clients", "Invoices", "Settings"])
    for index in range(links.count()):
        box = links.nth(index).bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert box["height"] >= 24
    links.filter(has_text="Invoices").click()
    expect(page).to_have_url(re.compile(r"/app/invoices$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Invoices")
    assert console.errors == []


def test_the_login_forms_focus_order(open_page: OpenPage) -> None:
    page, _ = open_page()
    page.goto("/app/login")
    order = []
    for _ in range(6):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate(
                "() => { const e = document.activeElement;"
                " return e.id || e.getAttribute('href') || e.textContent.trim(); }"
            )
        )
    assert order == ["#main", "/app", "field-email", "field-password", "Log in", "/app/signup"]
    # Whatever has the focus shows it.
    page.get_by_label("Email address").focus()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    # The skip link leads past the header.
    page.goto("/app/login")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("#main$"))


def test_the_wording_preview_follows_typing(open_page: OpenPage) -> None:
    page, console = open_page()
    log_in(page)
    page.goto("/app/settings/templates/friendly")
    frame = page.frame_locator("iframe.email-preview")
    expect(frame.locator("#preview-subject")).not_to_be_empty()
    page.get_by_label("Subject").fill("Live: {{ invoice_number }} for {{ client_name }}")
    expect(frame.locator("#preview-subject")).to_have_text(re.compile(r"^Live: RDS-\d+ for "))
    page.get_by_label("Text", exact=True).fill("Hello {{ contact_name }}\n\nTotal {{ 7*7 }}")
    expect(frame.locator("div.problem")).to_contain_text("only + and - are allowed")
    screenshot(page, "wording-live-preview")
    # The refused draft's frame answers 422, which the console notes; nothing else.
    refused = "the server responded with a status of 422"
    assert [text for text in console.errors if refused not in text] == []


def test_the_wording_preview_works_without_javascript(open_page: OpenPage) -> None:
    page, _ = open_page(javascript=False)
    log_in(page)
    page.goto("/app/settings/templates/neutral")
    page.get_by_label("Subject").fill("Plain: {{ invoice_number }}")
    page.get_by_role("button", name="Preview").click()
    frame = page.frame_locator("iframe.email-preview")
    expect(frame.locator("#preview-subject")).to_have_text(re.compile(r"^Plain: RDS-\d+$"))
    # Nothing was saved: the editor still holds the default wording.
    page.goto("/app/settings/templates/neutral")
    expect(page.get_by_label("Subject")).not_to_have_value(re.compile("^Plain"))
