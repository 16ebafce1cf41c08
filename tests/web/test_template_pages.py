"""Email wording pages: the four tones, saving with errors next to the subject or body,
back to the default, and the preview frame: a real invoice's email rendered as the worker
renders it, in a sandboxed document of its own, every user string escaped."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select

from duespark.db import Database
from duespark.models import EmailTemplate
from tests.web.helpers import (
    create_client,
    create_invoice,
    field_error,
    field_value,
    flash,
    html,
    sign_up,
    submit,
    token,
)
from tests.web.html import Element, parse

EDITOR = "/app/settings/templates/firm"
FRAME_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; "
    "frame-ancestors 'self'; form-action 'none'; base-uri 'none'"
)
DRAFT = {
    "subject": "Invoice {{ invoice_number }}: {{ amount }} overdue",
    "body": "Dear {{ contact_name }},\n\n{{ invoice_number }} is {{ days_overdue }} days late.",
}


def with_invoice(web: TestClient, **client: str) -> int:
    sign_up(web)
    client_id = create_client(web, **client)
    return create_invoice(
        web,
        client_id,
        number="INV-77",
        amount="1250.00",
        due_date="2026-06-10",
        payment_url="https://pay.example.com/77",
    )


def stored(database: Database) -> list[tuple[str, str, str]]:
    with database.session_scope() as session:
        return [
            (row.tone, row.subject, row.body)
            for row in session.scalars(select(EmailTemplate).order_by(EmailTemplate.tone))
        ]


def frame(response: Response) -> Element:
    assert response.headers["content-security-policy"] == FRAME_POLICY
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    return html(response)


def email_html(page: Element) -> Element:
    """The HTML part, parsed from the nested frame's srcdoc."""
    nested = page.find("iframe")
    assert "sandbox" in nested.attrs
    return parse(nested.attrs["srcdoc"])


def preview_draft(web: TestClient, invoice_id: int | str, **draft: str) -> Response:
    data: dict[str, Any] = {**DRAFT, "invoice_id": str(invoice_id), **draft}
    return submit(web, EDITOR + "/preview", data)


def test_the_four_tones_are_listed(web: TestClient) -> None:
    sign_up(web)
    page = html(web.get("/app/settings/templates"))
    links = [item.find("a") for item in page.find("ul", class_="tone-list").find_all("li")]
    assert [link.text for link in links] == ["Friendly", "Neutral", "Firm", "Final notice"]
    assert [link.attrs["href"] for link in links][2] == EDITOR
    assert page.find_all("p", class_="hint")[0].text == "DueSpark's default wording"


def test_the_editor_previews_the_saved_wording_on_a_real_invoice(web: TestClient) -> None:
    invoice_id = with_invoice(web)
    page = html(web.get(EDITOR))
    assert field_value(page, "subject").startswith("{% if days_overdue > 0 %}")
    assert field_value(page, "invoice_id") == str(invoice_id)
    preview = page.find("iframe", class_="email-preview")
    assert "sandbox" in preview.attrs and preview.attrs["sandbox"] == ""
    assert preview.attrs["src"] == f"{EDITOR}/preview?invoice_id={invoice_id}"
    button = page.find("button", **{"data-preview-button": ""})
    assert (button.attrs["formaction"], button.attrs["formtarget"]) == (
        EDITOR + "/preview",
        preview.attrs["name"],
    )
    shown = frame(web.get(preview.attrs["src"]))
    assert shown.by_id("preview-to").text == "accounts@globex.example"
    assert shown.by_id("preview-subject").text == "Payment overdue: invoice INV-77 ($1,250.00)"
    assert "Hello Hank Scorpio," in shown.by_id("preview-text").text
    assert "7 days overdue" in shown.by_id("preview-text").text
    body = email_html(shown)
    assert body.find("a").attrs["href"] == "https://pay.example.com/77"
    assert not shown.find_all("script")


def test_a_draft_is_previewed_on_the_chosen_invoice_and_never_saved(
    web: TestClient, database: Database
) -> None:
    invoice_id = with_invoice(web)
    response = preview_draft(web, invoice_id)
    assert response.status_code == 200
    shown = frame(response)
    assert shown.by_id("preview-subject").text == "Invoice INV-77: $1,250.00 overdue"
    assert shown.by_id("preview-text").text == "Dear Hank Scorpio, INV-77 is 7 days late."
    assert "Dear Hank Scorpio," in email_html(shown).text
    assert stored(database) == []


def test_a_draft_that_breaks_the_rules_is_explained_not_replaced(web: TestClient) -> None:
    invoice_id = with_invoice(web)
    response = preview_draft(web, invoice_id, body="Total: {{ 7*7 }}")
    assert response.status_code == 422
    shown = frame(response)
    assert not shown.find_all("iframe")
    problem = shown.find("div", class_="problem").text
    assert "body, line 1: only + and - are allowed" in problem
    missing = frame(preview_draft(web, invoice_id, subject=""))
    assert "subject: Required." in missing.find("div", class_="problem").text


def test_user_strings_in_a_preview_are_shown_as_text(web: TestClient) -> None:
    hostile = "<script>alert(1)</script> {{ 7*7 }}"
    invoice_id = with_invoice(web, name=hostile, contact_name="")
    response = preview_draft(
        web,
        invoice_id,
        subject="<b>Hi</b> {{ client_name }}",
        body="<script>alert(2)</script>\n\n{{ client_name }}",
    )
    assert response.status_code == 200
    assert "<script>" not in response.text and "<b>" not in response.text
    shown = frame(response)
    assert shown.by_id("preview-subject").text == f"<b>Hi</b> {hostile}"
    assert shown.by_id("preview-text").text == f"<script>alert(2)</script> {hostile}"
    body = email_html(shown)
    assert not body.find_all("script") and not body.find_all("b")
    assert "<script>alert(2)</script>" in body.text and hostile in body.text


def test_saving_wording_with_errors_next_to_the_field(web: TestClient, database: Database) -> None:
    invoice_id = with_invoice(web)
    broken = submit(
        web,
        EDITOR,
        {"subject": "Late", "body": "Line one\n{% if pay_link %}unclosed", "invoice_id": ""},
    )
    assert broken.status_code == 422
    page = html(broken)
    assert (field_error(page, "body") or "").startswith("body, line 2:")
    assert field_value(page, "body") == "Line one\n{% if pay_link %}unclosed"
    blank = html(submit(web, EDITOR, {"subject": "", "body": "x", "invoice_id": ""}))
    assert field_error(blank, "subject") == "Required."
    assert stored(database) == []
    saved = submit(web, EDITOR, {**DRAFT, "invoice_id": str(invoice_id)})
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{EDITOR}?invoice_id={invoice_id}"
    assert stored(database) == [("firm", DRAFT["subject"], DRAFT["body"])]
    page = html(web.get(saved.headers["location"]))
    assert flash(page) == "Firm wording saved."
    assert "This is your own wording." in page.by_id("main").text
    shown = frame(web.get(f"{EDITOR}/preview?invoice_id={invoice_id}"))
    assert shown.by_id("preview-subject").text == "Invoice INV-77: $1,250.00 overdue"
    assert submit(web, EDITOR + "/reset").status_code == 303
    assert stored(database) == []
    assert "DueSpark's default wording" in html(web.get(EDITOR)).by_id("main").text


def test_without_invoices_the_preview_uses_the_sample(web: TestClient) -> None:
    sign_up(web)
    page = html(web.get(EDITOR))
    assert page.find("iframe", class_="email-preview").attrs["src"] == EDITOR + "/preview"
    shown = frame(web.get(EDITOR + "/preview"))
    assert "INV-0042" in shown.by_id("preview-subject").text
    assert "sample reminder" in shown.find("p", class_="note").text
    sample = frame(submit(web, EDITOR + "/preview", {**DRAFT, "invoice_id": ""}))
    assert sample.by_id("preview-subject").text == "Invoice INV-0042: €1,250.00 overdue"


def test_another_accounts_invoice_cannot_be_previewed(
    web: TestClient, browser: Any, database: Database
) -> None:
    theirs = with_invoice(web)
    mine = browser()
    sign_up(mine, email="eve@example.com", name="Eve Example")
    assert mine.get(f"{EDITOR}/preview?invoice_id={theirs}").status_code == 404
    posted = mine.post(
        EDITOR + "/preview", data={**DRAFT, "invoice_id": str(theirs), "csrf_token": token(mine)}
    )
    assert posted.status_code == 404
    assert "Globex" not in posted.text and "INV-77" not in posted.text
    # The editor ignores an invoice that is not the account's own.
    page = html(mine.get(f"{EDITOR}?invoice_id={theirs}"))
    assert page.find("iframe", class_="email-preview").attrs["src"] == EDITOR + "/preview"


def test_wording_forms_need_this_sites_token(web: TestClient, database: Database) -> None:
    invoice_id = with_invoice(web)
    for url in [EDITOR, EDITOR + "/preview", EDITOR + "/reset"]:
        response = web.post(
            url, data={**DRAFT, "invoice_id": str(invoice_id), "csrf_token": "forged"}
        )
        assert response.status_code == 403, url
    assert stored(database) == []


def test_an_unknown_tone_is_not_found(web: TestClient) -> None:
    sign_up(web)
    assert web.get("/app/settings/templates/angry").status_code == 404
    assert web.get("/app/settings/templates/angry/preview").status_code == 404
