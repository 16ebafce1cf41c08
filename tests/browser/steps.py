"""What a person does in the browser, as functions over a Playwright page: sign up, log
in, find the pages worth visiting."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from duespark.ops.demo_data import ACCOUNT as DEMO
from tests.factories import PASSWORD

DEMO_EMAIL = DEMO["email"]
DEMO_PASSWORD = DEMO["password"]


def sign_up(page: Page, email: str, *, name: str = "Ada Browser") -> None:
    """Create an account through the form (time zone UTC); the page is then logged in."""
    page.goto("/app/signup")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Business name").fill("Browser Engines")
    page.get_by_label("Time zone").fill("UTC")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/app$"))


def log_in(page: Page, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD) -> None:
    page.goto("/app/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/app$"))


def main_pages(page: Page) -> dict[str, str]:
    """The pages a user works in, by a short name, with ids of the signed-in account's
    own client and invoice (the first overdue one on the dashboard)."""
    page.goto("/app")
    invoice = page.locator("#overdue table a").first.get_attribute("href")
    page.goto("/app/clients")
    client = page.locator("table.list a").first.get_attribute("href")
    assert invoice and client
    return {
        "dashboard": "/app",
        "clients": "/app/clients",
        "client": client,
        "client-form": "/app/clients/new",
        "invoices": "/app/invoices",
        "invoice": invoice,
        "invoice-form": "/app/invoices/new",
        "reminder-preview": invoice + "/preview",
        "import": "/app/invoices/import",
        "reminder-settings": "/app/settings/reminders",
        "wording": "/app/settings/templates",
        "wording-editor": "/app/settings/templates/firm",
        "account": "/app/settings/account",
    }
