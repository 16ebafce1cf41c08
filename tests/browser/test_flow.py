"""The freelancer's path in a real browser: sign up, add a client, add an overdue invoice,
see it on the dashboard, preview its reminder, mark it paid, see the dashboard change;
errors shown next to their fields; a forged form refused."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from duespark.clock import local_today, utc_now
from tests.browser.conftest import OpenPage, new_email, screenshot
from tests.browser.steps import sign_up

pytestmark = pytest.mark.xdist_group("browser")

CLIENT_EMAIL = "accounts@initech.example"


def card(page: Page, currency: str, title: str) -> str:
    panel = page.locator("section.currency-panel", has=page.locator(f"#currency-{currency}"))
    return (
        panel.locator("div.card", has=page.get_by_role("heading", name=title))
        .locator("p.card-figure")
        .inner_text()
    )


def test_from_sign_up_to_a_paid_invoice(open_page: OpenPage) -> None:
    page, console = open_page()
    sign_up(page, new_email())
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_role("status")).to_contain_text("Welcome to DueSpark, Ada Browser.")
    expect(page.locator("#getting-started")).to_have_text("Nothing here yet")

    # A client.
    page.get_by_role("link", name="New client").click()
    page.get_by_label("Name", exact=True).fill("Initech")
    page.get_by_label("Email address for reminders").fill(CLIENT_EMAIL)
    page.get_by_label("Contact person").fill("Bill Lumbergh")
    page.get_by_label("Time zone").fill("UTC")
    page.get_by_label("Currency").select_option("EUR")
    page.get_by_role("button", name="Add client").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Initech")
    screenshot(page, "client")

    # An invoice, ten days overdue.
    today = local_today(utc_now(), "UTC")
    page.get_by_role("link", name="New invoice").click()
    expect(page.get_by_label("Client", exact=True)).to_have_value(re.compile(r"\d+"))
    page.get_by_label("Invoice number").fill("BR-1")
    page.get_by_label("Amount", exact=True).fill("1250.00")
    page.get_by_label("Issue date").fill((today - timedelta(days=40)).isoformat())
    page.get_by_label("Due date").fill((today - timedelta(days=10)).isoformat())
    page.get_by_role("button", name="Create invoice").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Invoice BR-1")
    expect(page.locator("dl.facts")).to_contain_text("10 days overdue")
    invoice_url = page.url
    screenshot(page, "invoice")

    # The dashboard shows it.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    assert card(page, "EUR", "Overdue") == "1,250.00 EUR"
    expect(page.locator("#overdue table")).to_contain_text("BR-1")
    expect(page.locator("#overdue table")).to_contain_text("10 days overdue")
    expect(page.locator("#next-to-send")).to_contain_text("BR-1")
    expect(page.locator("svg.chart").first).to_be_visible()
    screenshot(page, "dashboard")

    # Its reminder, exactly as Initech will receive it.
    page.goto(invoice_url)
    page.get_by_role("link", name="Preview reminders").click()
    frame = page.frame_locator("iframe.email-preview")
    expect(frame.locator("#preview-to")).to_have_text(CLIENT_EMAIL)
    expect(frame.locator("#preview-subject")).to_contain_text("BR-1")
    expect(frame.locator("#preview-text")).to_contain_text("Bill Lumbergh")
    expect(frame.frame_locator("iframe").locator("body")).to_contain_text("€1,250.00")
    screenshot(page, "reminder-preview")

    # Paid.
    page.goto(invoice_url)
    page.get_by_role("button", name="Mark paid").click()
    expect(page.get_by_role("status")).to_have_text("Invoice BR-1 marked paid.")
    expect(page.locator("dl.facts")).to_contain_text("Paid")

    # The dashboard has changed.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    assert card(page, "EUR", "Overdue") == "0.00 EUR"
    assert card(page, "EUR", "Outstanding") == "0.00 EUR"
    expect(page.locator("#overdue")).to_contain_text("Nothing is overdue. Well done.")
    screenshot(page, "dashboard-after-payment")
    assert console.errors == []


def test_form_errors_are_shown_next_to_their_fields(open_page: OpenPage) -> None:
    page, console = open_page()
    sign_up(page, new_email())
    page.goto("/app/clients/new")
    page.get_by_label("Email address for reminders").fill("not an address")
    page.get_by_label("Time zone").fill("Mars/Olympus")
    page.get_by_role("button", name="Add client").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Please correct the form")
    for name in ("name", "email", "time_zone", "default_currency"):
        field = page.locator(f"#field-{name}")
        expect(field).to_have_attribute("aria-invalid", "true")
        error = page.locator(f"#field-{name}-error")
        expect(error).to_be_visible()
        assert f"field-{name}-error" in (field.get_attribute("aria-describedby") or "")
    expect(page.locator("#field-name-error")).to_contain_text("Required.")
    # What was typed is still there.
    expect(page.get_by_label("Email address for reminders")).to_have_value("not an address")
    expect(page.get_by_label("Time zone")).to_have_value("Mars/Olympus")
    # The summary links to each field.
    summary.get_by_role("link", name=re.compile("^Time zone")).click()
    expect(page).to_have_url(re.compile("#field-time_zone$"))
    screenshot(page, "form-errors")
    assert console.csp_violations() == []


def test_a_tampered_form_is_refused_and_changes_nothing(open_page: OpenPage) -> None:
    page, _ = open_page()
    sign_up(page, new_email())
    page.goto("/app/clients/new")
    page.get_by_label("Name", exact=True).fill("Forged Ltd")
    page.get_by_label("Email address for reminders").fill("forged@example.com")
    page.get_by_label("Currency").select_option("USD")
    form = page.locator("form", has=page.get_by_role("button", name="Add client"))
    form.locator("input[name=csrf_token]").evaluate("(input) => { input.value = 'tampered'; }")
    with page.expect_response(
        lambda response: (
            response.request.method == "POST" and response.url.endswith("/app/clients/new")
        )
    ) as answer:
        page.get_by_role("button", name="Add client").click()
    assert answer.value.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(page.locator("#main")).to_contain_text("did not come from this site")
    screenshot(page, "csrf-refused")
    page.goto("/app/clients")
    expect(page.locator("#main")).to_contain_text("No clients yet")
