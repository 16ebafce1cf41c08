"""Invoice pages: create and edit with errors per field, the list's filters, the invoice's
page (reminder timeline, activity) and its actions: mark paid, void, reopen, pause."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from duespark.config import Settings
from duespark.db import Database
from duespark.models import Invoice
from tests.api.test_reminders import worker_pass
from tests.web.helpers import (
    TODAY,
    create_client,
    create_invoice,
    field_error,
    field_value,
    flash,
    html,
    sign_up,
    submit,
)

FORM = {
    "number": "INV-0042",
    "amount": "1250.00",
    "currency": "",
    "issue_date": "",
    "due_date": "2026-07-31",
    "status": "open",
    "payment_url": "",
    "notes": "",
}


def stored(database: Database) -> list[dict[str, Any]]:
    with database.session_scope() as session:
        return [
            {
                "id": i.id,
                "number": i.number,
                "amount_minor": i.amount_minor,
                "currency": i.currency,
                "issue_date": i.issue_date,
                "due_date": i.due_date,
                "status": i.status,
                "notes": i.notes,
                "paid_at": i.paid_at,
                "amount_paid_minor": i.amount_paid_minor,
                "reminders_paused_until": i.reminders_paused_until,
                "updated_at": i.updated_at,
            }
            for i in session.scalars(select(Invoice).order_by(Invoice.id))
        ]


def signed_up_with_client(web: TestClient) -> int:
    sign_up(web)
    return create_client(web)


def test_creating_an_invoice_with_the_clients_currency_and_today(
    web: TestClient, database: Database
) -> None:
    client_id = signed_up_with_client(web)
    response = submit(web, "/app/invoices/new", {**FORM, "client_id": str(client_id)})
    assert response.status_code == 303
    page = html(web.get(response.headers["location"]))
    assert flash(page) == "Invoice INV-0042 created."
    assert page.find("h1").text == "Invoice INV-0042"
    facts = page.find("dl", class_="facts").text
    assert "1,250.00 USD" in facts and "Due 31 Jul 2026" in facts and "Issued 17 Jun 2026" in facts
    [invoice] = stored(database)
    assert invoice["amount_minor"] == 125000 and invoice["currency"] == "USD"
    assert invoice["issue_date"] == date.fromisoformat(TODAY)


def test_new_invoice_form_preselects_the_client(web: TestClient) -> None:
    client_id = signed_up_with_client(web)
    page = html(web.get(f"/app/invoices/new?client_id={client_id}"))
    assert field_value(page, "client_id") == str(client_id)
    assert field_value(page, "status") == "open"
    # An id that is not one of the account's clients preselects nothing.
    assert field_value(html(web.get("/app/invoices/new?client_id=999")), "client_id") == ""


def test_a_refused_invoice_keeps_what_was_typed(web: TestClient, database: Database) -> None:
    client_id = signed_up_with_client(web)
    typed = {
        **FORM,
        "client_id": str(client_id),
        "number": "",
        "amount": "1,250.00",
        "due_date": "31/07/2026",
        "payment_url": "javascript:alert(1)",
        "notes": "Deliverable <b>one</b>",
    }
    response = submit(web, "/app/invoices/new", typed)
    assert response.status_code == 422
    page = html(response)
    assert field_error(page, "number") == "Required."
    assert "decimal string" in (field_error(page, "amount") or "")
    assert "YYYY-MM-DD" in (field_error(page, "due_date") or "")
    assert "URL" in (field_error(page, "payment_url") or "")
    for name in ("client_id", "amount", "due_date", "payment_url", "notes"):
        assert field_value(page, name) == typed[name], name
    assert stored(database) == []


def test_rules_of_the_service_are_shown_on_their_fields(
    web: TestClient, database: Database
) -> None:
    client_id = signed_up_with_client(web)
    early = submit(
        web,
        "/app/invoices/new",
        {**FORM, "client_id": str(client_id), "issue_date": "2026-08-01", "due_date": "2026-07-01"},
    )
    assert early.status_code == 422
    assert field_error(html(early), "due_date") == "The due date cannot be before the issue date."
    precise = submit(
        web, "/app/invoices/new", {**FORM, "client_id": str(client_id), "amount": "10.005"}
    )
    assert precise.status_code == 422
    assert "USD has 2 decimal places" in (field_error(html(precise), "amount") or "")
    assert stored(database) == []


def test_a_taken_number_is_a_409_on_the_number_field(web: TestClient, database: Database) -> None:
    client_id = signed_up_with_client(web)
    create_invoice(web, client_id, number="INV-7")
    before = stored(database)
    response = submit(
        web, "/app/invoices/new", {**FORM, "client_id": str(client_id), "number": "INV-7"}
    )
    assert response.status_code == 409
    assert field_error(html(response), "number") == 'Invoice number "INV-7" is already used.'
    assert stored(database) == before


def test_editing_an_open_invoice(web: TestClient, database: Database) -> None:
    client_id = signed_up_with_client(web)
    invoice_id = create_invoice(web, client_id)
    form = html(web.get(f"/app/invoices/{invoice_id}/edit"))
    values = {name: field_value(form, name) for name in (*FORM, "client_id")}
    assert values["amount"] == "1250.00" and values["currency"] == "USD"
    values.update(amount="99.50", due_date="2026-08-15", notes="Second instalment")
    response = submit(web, f"/app/invoices/{invoice_id}/edit", values)
    assert response.status_code == 303, response.text
    [invoice] = stored(database)
    assert invoice["amount_minor"] == 9950
    assert invoice["due_date"] == date(2026, 8, 15)
    assert invoice["notes"] == "Second instalment"


def test_editing_with_a_taken_number_changes_nothing(web: TestClient, database: Database) -> None:
    client_id = signed_up_with_client(web)
    create_invoice(web, client_id, number="INV-1")
    second = create_invoice(web, client_id, number="INV-2")
    before = stored(database)
    values = {**FORM, "client_id": str(client_id), "number": "INV-1", "currency": "USD",
              "issue_date": "2026-06-01", "notes": "changed"}  # fmt: skip
    response = submit(web, f"/app/invoices/{second}/edit", values)
    assert response.status_code == 409
    page = html(response)
    assert "already used" in (field_error(page, "number") or "")
    assert field_value(page, "notes") == "changed"
    assert stored(database) == before


def test_a_paid_invoice_offers_only_notes_and_payment_link(
    web: TestClient, database: Database
) -> None:
    client_id = signed_up_with_client(web)
    invoice_id = create_invoice(web, client_id)
    assert submit(web, f"/app/invoices/{invoice_id}/mark-paid").status_code == 303
    form = html(web.get(f"/app/invoices/{invoice_id}/edit"))
    assert not form.has_id("field-amount") and form.has_id("field-notes")
    assert "only its payment link and notes can change" in form.find("p", class_="notice").text
    response = submit(
        web,
        f"/app/invoices/{invoice_id}/edit",
        {"notes": "Paid by transfer", "payment_url": "https://pay.example/inv/1"},
    )
    assert response.status_code == 303
    [invoice] = stored(database)
    assert invoice["notes"] == "Paid by transfer" and invoice["status"] == "paid"


def test_marking_paid_voiding_and_reopening(web: TestClient, database: Database) -> None:
    client_id = signed_up_with_client(web)
    invoice_id = create_invoice(web, client_id)
    paid = submit(
        web,
        f"/app/invoices/{invoice_id}/mark-paid",
        {"paid_at": "2026-06-16", "amount_paid": "1000.00"},
    )
    assert paid.status_code == 303
    page = html(web.get(f"/app/invoices/{invoice_id}"))
    assert flash(page) == "Invoice INV-0001 marked paid."
    assert "1,000.00 USD on 16 Jun 2026, 00:00" in page.find("dl", class_="facts").text
    [invoice] = stored(database)
    assert invoice["status"] == "paid" and invoice["amount_paid_minor"] == 100000
    assert invoice["paid_at"] == datetime(2026, 6, 15, 23, 0, tzinfo=UTC)  # London summer time

    # A paid invoice cannot be voided: the page says so, with the state machine's words.
    refused = submit(web, f"/app/invoices/{invoice_id}/void")
    assert refused.status_code == 409
    assert "A paid invoice cannot be voided; allowed: reopen." in refused.text
    assert stored(database)[0]["status"] == "paid"

    assert submit(web, f"/app/invoices/{invoice_id}/reopen").status_code == 303
    assert stored(database)[0]["status"] == "open"
    assert stored(database)[0]["paid_at"] is None
    assert submit(web, f"/app/invoices/{invoice_id}/void").status_code == 303
    assert stored(database)[0]["status"] == "void"
    activity = html(web.get(f"/app/invoices/{invoice_id}")).find("ol", class_="activity").text
    for kind in ("created", "paid", "reopened", "voided"):
        assert kind in activity


def test_a_refused_payment_keeps_the_form_and_changes_nothing(
    web: TestClient, database: Database
) -> None:
    client_id = signed_up_with_client(web)
    invoice_id = create_invoice(web, client_id)
    before = stored(database)
    for data, field, message in [
        ({"paid_at": "2026-06-18", "amount_paid": ""}, "paid_at", "in the future"),
        ({"paid_at": "", "amount_paid": "10.001"}, "amount_paid", "2 decimal places"),
        ({"paid_at": "", "amount_paid": "0"}, "amount_paid", "more than zero"),
        ({"paid_at": "yesterday", "amount_paid": ""}, "paid_at", "must be a date"),
    ]:
        response = submit(web, f"/app/invoices/{invoice_id}/mark-paid", data)
        assert response.status_code == 422, data
        page = html(response)
        assert message in (field_error(page, field) or "").lower(), data
        assert field_value(page, field) == data[field]
    assert stored(database) == before


def test_pausing_an_invoice_until_a_promised_date(web: TestClient, database: Database) -> None:
    client_id = signed_up_with_client(web)
    invoice_id = create_invoice(web, client_id)
    assert (
        submit(web, f"/app/invoices/{invoice_id}/pause", {"until": "2026-07-10"}).status_code == 303
    )
    page = html(web.get(f"/app/invoices/{invoice_id}"))
    assert flash(page) == "Reminders for invoice INV-0001 paused until 2026-07-10."
    assert "Paused until 10 Jul 2026" in page.find("dl", class_="facts").text
    assert stored(database)[0]["reminders_paused_until"] == date(2026, 7, 10)
    assert submit(web, f"/app/invoices/{invoice_id}/resume").status_code == 303
    assert stored(database)[0]["reminders_paused_until"] is None
    refused = submit(web, f"/app/invoices/{invoice_id}/pause", {"until": "2026-01-01"})
    assert refused.status_code == 422
    assert field_error(html(refused), "until") == "until cannot be in the past."


def test_the_timeline_shows_sent_skipped_and_upcoming_steps(
    web: TestClient, database: Database, settings: Settings
) -> None:
    client_id = signed_up_with_client(web)
    invoice_id = create_invoice(web, client_id, issue_date="2026-05-11", due_date="2026-06-10")
    worker_pass(database, settings)  # at 15:00 UTC: the +7 step goes, -3, 0 and +3 are skipped
    page = html(web.get(f"/app/invoices/{invoice_id}"))
    entries = page.find("ol", class_="timeline").find_all("li")
    states = [entry.find("span", class_="status").text for entry in entries]
    assert states == ["skipped", "skipped", "skipped", "sent", "upcoming", "upcoming"]
    assert "Neutral reminder, 7 days after the due date" in entries[3].text
    assert "sent 17 Jun 2026, 16:00" in entries[3].text
    assert entries[0].find("span", class_="timeline-reason").text
    assert "7 days overdue" in page.find("dl", class_="facts").text
    assert "reminder sent" in page.find("ol", class_="activity").text.replace("_", " ")


def test_the_list_filters(web: TestClient) -> None:
    client_id = signed_up_with_client(web)
    other = create_client(web, name="Initech", email="bill@initech.example")
    create_invoice(web, client_id, number="LATE-1", due_date="2026-06-10")
    create_invoice(web, client_id, number="LATER-2", due_date="2026-07-10")
    create_invoice(web, other, number="DRAFT-3", status="draft", due_date="2026-06-01")

    def numbers(query: str) -> list[str]:
        response = web.get("/app/invoices" + query)
        assert response.status_code == 200, query
        tables = html(response).find_all("table")
        return [a.text for a in tables[0].find_all("a")] if tables else []

    assert numbers("") == ["DRAFT-3", "LATE-1", "LATER-2"]
    assert numbers("?overdue=true") == ["LATE-1"]
    assert numbers("?status=draft") == ["DRAFT-3"]
    assert numbers(f"?client_id={other}") == ["DRAFT-3"]
    assert numbers("?due_after=2026-06-05&sort=-due_date") == ["LATER-2", "LATE-1"]
    assert numbers("?q=later") == ["LATER-2"]
    page = html(web.get("/app/invoices?status=draft&overdue=false"))
    assert field_value(page, "status") == "draft" and field_value(page, "overdue") == "false"


def test_a_bad_filter_is_shown_on_its_field(web: TestClient) -> None:
    signed_up_with_client(web)
    response = web.get("/app/invoices?due_before=tomorrow&status=late")
    assert response.status_code == 422
    page = html(response)
    assert "YYYY-MM-DD" in (field_error(page, "due_before") or "")
    assert field_error(page, "status") is not None
    assert field_value(page, "due_before") == "tomorrow"
    assert field_value(page, "status") == "late"  # kept, so the error next to it makes sense


def test_the_home_page_lists_overdue_invoices(web: TestClient) -> None:
    client_id = signed_up_with_client(web)
    create_invoice(web, client_id, number="LATE-1", due_date="2026-06-10")
    create_invoice(web, client_id, number="LATER-2", due_date="2026-07-10")
    page = html(web.get("/app"))
    table = page.by_id("overdue").find("table")
    assert [a.text for a in table.find_all("a")] == ["LATE-1"]
    assert "Globex Corporation" in table.text and "7 days overdue" in table.text


def test_invoice_text_is_escaped_never_run(web: TestClient) -> None:
    client_id = signed_up_with_client(web)
    hostile = "<script>alert(1)</script> {{ 7*7 }}"
    invoice_id = create_invoice(web, client_id, number="<b>INV</b>", notes=hostile)
    for path in [
        f"/app/invoices/{invoice_id}",
        "/app/invoices",
        f"/app/invoices/{invoice_id}/edit",
    ]:
        response = web.get(path)
        assert "<script>alert(1)</script>" not in response.text, path
        assert "<b>INV</b>" not in response.text, path
    page = html(web.get(f"/app/invoices/{invoice_id}"))
    assert page.find("p", class_="notes").text == hostile
    assert page.find("h1").text == "Invoice <b>INV</b>"
