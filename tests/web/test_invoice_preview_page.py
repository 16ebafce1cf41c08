"""An invoice's reminder preview: its policy's steps with their state, each step's email
in the sandboxed frame as the client receives it, and sending a step by hand, once."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from duespark.db import Database
from duespark.models import OutboxMessage, Reminder
from tests.web.helpers import create_client, create_invoice, flash, html, sign_up, submit

FRAME_POLICY_START = "default-src 'none'; style-src 'unsafe-inline'"


def overdue(web: TestClient) -> int:
    """An invoice due a week ago (the pages' today is 17 June 2026)."""
    sign_up(web)
    return create_invoice(web, create_client(web), number="INV-9", due_date="2026-06-10")


def ledger(database: Database) -> list[tuple[int, str]]:
    with database.session_scope() as session:
        return [
            (row.offset_days, row.state)
            for row in session.scalars(select(Reminder).order_by(Reminder.offset_days))
        ]


def test_the_invoice_page_links_to_its_preview(web: TestClient) -> None:
    invoice_id = overdue(web)
    page = html(web.get(f"/app/invoices/{invoice_id}"))
    link = page.find("a", href=f"/app/invoices/{invoice_id}/preview")
    assert link.text == "Preview reminders"


def test_the_steps_and_the_next_ones_email(web: TestClient) -> None:
    invoice_id = overdue(web)
    page = html(web.get(f"/app/invoices/{invoice_id}/preview"))
    assert page.find("h1").text == "Reminders of invoice INV-9"
    steps = [item.find("a").text for item in page.find("ol", class_="steps-list").find_all("li")]
    assert steps[0] == "Friendly, 3 days before the due date"
    assert steps[-1] == "Final notice, 30 days after the due date"
    frame_src = page.find("iframe", class_="email-preview").attrs["src"]
    assert frame_src == f"/app/invoices/{invoice_id}/preview/email"
    email = web.get(frame_src)
    assert email.status_code == 200
    assert email.headers["content-security-policy"].startswith(FRAME_POLICY_START)
    shown = html(email)
    assert shown.by_id("preview-to").text == "accounts@globex.example"
    # The next step planning sends is +7 (neutral): the wording says so.
    assert "INV-9" in shown.by_id("preview-subject").text
    assert "7 days" in shown.by_id("preview-text").text


def test_a_chosen_step_is_previewed_in_its_tone(web: TestClient) -> None:
    invoice_id = overdue(web)
    page = html(web.get(f"/app/invoices/{invoice_id}/preview?offset_days=30"))
    current = page.find("a", **{"aria-current": "true"})
    assert current.text == "Final notice, 30 days after the due date"
    src = page.find("iframe", class_="email-preview").attrs["src"]
    assert src.endswith("?offset_days=30")
    assert "Final notice" in html(web.get(src)).by_id("preview-subject").text


def test_a_step_not_in_the_policy_is_explained(web: TestClient) -> None:
    invoice_id = overdue(web)
    response = web.get(f"/app/invoices/{invoice_id}/preview?offset_days=5")
    assert response.status_code == 422
    page = html(response)
    assert "has no step +5 days" in page.find("div", class_="error-summary").text
    email = web.get(f"/app/invoices/{invoice_id}/preview/email?offset_days=5")
    assert email.status_code == 422
    assert "no step at +5 days" in html(email).find("div", class_="problem").text
    assert web.get(f"/app/invoices/{invoice_id}/preview?offset_days=x").status_code == 422


def test_sending_a_step_by_hand_happens_once(web: TestClient, database: Database) -> None:
    invoice_id = overdue(web)
    sent = submit(web, f"/app/invoices/{invoice_id}/preview/send", {"offset_days": "7"})
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/app/invoices/{invoice_id}"
    assert flash(html(web.get(sent.headers["location"]))) == (
        "The neutral reminder for invoice INV-9 is on its way."
    )
    assert ledger(database) == [(7, "scheduled")]
    with database.session_scope() as session:
        [message] = session.scalars(select(OutboxMessage))
        assert message.recipient == "accounts@globex.example"
    again = submit(web, f"/app/invoices/{invoice_id}/preview/send", {"offset_days": "7"})
    assert again.status_code == 409
    assert "never sent twice" in html(again).find("div", class_="error-summary").text
    page = html(web.get(f"/app/invoices/{invoice_id}/preview"))
    seven = page.find("ol", class_="steps-list").find_all("li")[3]
    assert "Scheduled" in seven.text.title() and not seven.find_all("form")
    assert ledger(database) == [(7, "scheduled")]


def test_sending_by_hand_needs_this_sites_token(web: TestClient, database: Database) -> None:
    invoice_id = overdue(web)
    response = web.post(
        f"/app/invoices/{invoice_id}/preview/send",
        data={"offset_days": "7", "csrf_token": "forged"},
    )
    assert response.status_code == 403
    assert ledger(database) == []
