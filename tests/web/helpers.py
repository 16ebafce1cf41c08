"""What a person does in a browser, as functions: sign up, log in, fill in a form.

Forms are submitted with the CSRF token read from the page, as a browser would; tests
that want a refusal leave it out or change it on purpose.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response

from tests.factories import PASSWORD
from tests.web.html import Element, parse

NOW = datetime(2026, 6, 17, 15, 30, tzinfo=UTC)
"""The pages' clock: a Wednesday afternoon (16:30 in London, 11:30 in New York)."""
TODAY = "2026-06-17"

ACCOUNT = {
    "email": "ada@example.com",
    "password": PASSWORD,
    "name": "Ada Lovelace",
    "business_name": "Analytical Engines Ltd",
    "time_zone": "Europe/London",
}
CLIENT = {
    "name": "Globex Corporation",
    "email": "accounts@globex.example",
    "contact_name": "Hank Scorpio",
    "time_zone": "America/New_York",
    "locale": "en",
    "default_currency": "USD",
    "notes": "",
}


def html(response: Response) -> Element:
    assert response.headers["content-type"].startswith("text/html"), response.text
    return parse(response.text)


def csrf_token(response: Response) -> str:
    return html(response).find("input", name="csrf_token").attrs["value"]


def sign_up(browser: TestClient, **overrides: str) -> Response:
    """Sign up through the form; the browser is then logged in."""
    form = browser.get("/app/signup")
    assert form.status_code == 200, form.text
    response = browser.post(
        "/app/signup", data={**ACCOUNT, **overrides, "csrf_token": csrf_token(form)}
    )
    assert response.status_code == 303, response.text
    return response


def log_in(
    browser: TestClient, email: str = ACCOUNT["email"], password: str = PASSWORD, **extra: str
) -> Response:
    form = browser.get("/app/login")
    return browser.post(
        "/app/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(form), **extra},
    )


def token(browser: TestClient) -> str:
    """The signed-in browser's CSRF token, as every page's forms carry it."""
    response = browser.get("/app")
    assert response.status_code == 200, response.text
    return csrf_token(response)


def submit(browser: TestClient, url: str, data: dict[str, Any] | None = None) -> Response:
    """Post a form of a signed-in page, with the page's CSRF token."""
    return browser.post(url, data={**(data or {}), "csrf_token": token(browser)})


def create_client(browser: TestClient, **overrides: str) -> int:
    response = submit(browser, "/app/clients/new", {**CLIENT, **overrides})
    assert response.status_code == 303, response.text
    return _id_in(response.headers["location"], "/app/clients/")


def create_invoice(browser: TestClient, client_id: int, **overrides: str) -> int:
    data = {
        "client_id": str(client_id),
        "number": "INV-0001",
        "amount": "1250.00",
        "currency": "",
        "issue_date": "2026-06-01",
        "due_date": "2026-07-01",
        "status": "open",
        "payment_url": "",
        "notes": "",
        **overrides,
    }
    response = submit(browser, "/app/invoices/new", data)
    assert response.status_code == 303, response.text
    return _id_in(response.headers["location"], "/app/invoices/")


def field_error(page: Element, name: str) -> str | None:
    """The message shown next to field ``name``, checking it is tied to the field."""
    if not page.has_id(f"field-{name}-error"):
        return None
    field = page.by_id(f"field-{name}")
    assert f"field-{name}-error" in field.attrs.get("aria-describedby", "").split()
    assert field.attrs.get("aria-invalid") == "true"
    return page.by_id(f"field-{name}-error").text.removeprefix("Error: ")


def field_value(page: Element, name: str) -> str:
    field = page.by_id(f"field-{name}")
    if field.tag == "textarea":
        return "".join(child for child in field.children if isinstance(child, str))
    if field.tag == "select":
        selected = [option for option in field.find_all("option") if "selected" in option.attrs]
        return selected[0].attrs["value"] if selected else ""
    return field.attrs.get("value", "")


def summary(page: Element) -> list[str]:
    """The error summary's lines."""
    return [item.text for item in page.find("div", class_="error-summary").find_all("li")]


def flash(page: Element) -> str:
    return page.find("div", class_="flash").text


def _id_in(location: str, prefix: str) -> int:
    match = re.fullmatch(re.escape(prefix) + r"([0-9]+)", location)
    assert match, location
    return int(match.group(1))
