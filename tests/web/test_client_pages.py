"""Client pages: list and search, create and edit with errors per field, the client's
page with its open invoices, pausing reminders until a date."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from duespark.db import Database
from duespark.models import Client
from tests.web.helpers import (
    CLIENT,
    create_client,
    create_invoice,
    field_error,
    field_value,
    flash,
    html,
    sign_up,
    submit,
    summary,
)


def stored_clients(database: Database) -> list[tuple[object, ...]]:
    with database.session_scope() as session:
        return [
            (c.id, c.name, c.email, c.contact_name, c.time_zone, c.locale, c.notes, c.updated_at)
            for c in session.scalars(select(Client).order_by(Client.id))
        ]


def test_adding_a_client(web: TestClient, database: Database) -> None:
    sign_up(web)
    response = submit(web, "/app/clients/new", CLIENT)
    assert response.status_code == 303
    client_id = int(response.headers["location"].rsplit("/", 1)[1])
    page = html(web.get(response.headers["location"]))
    assert flash(page) == "Client Globex Corporation added."
    assert page.find("h1").text == "Globex Corporation"
    assert "Hank Scorpio" in page.find("dl", class_="facts").text
    [(stored_id, name, email, contact, zone, locale, notes, _)] = stored_clients(database)
    assert (stored_id, name, email, contact, zone, locale, notes) == (
        client_id, "Globex Corporation", "accounts@globex.example", "Hank Scorpio",
        "America/New_York", "en", "",
    )  # fmt: skip


def test_the_new_client_form_starts_in_the_accounts_time_zone(web: TestClient) -> None:
    sign_up(web)
    page = html(web.get("/app/clients/new"))
    assert field_value(page, "time_zone") == "Europe/London"
    assert field_value(page, "locale") == "en"
    assert field_value(page, "default_currency") == ""
    assert page.by_id("field-time_zone").attrs["list"] == "time-zones"
    assert page.by_id("time-zones").find_all("option", value="Asia/Tokyo")


def test_a_refused_client_form_keeps_what_was_typed(web: TestClient, database: Database) -> None:
    sign_up(web)
    typed = {
        **CLIENT,
        "name": "",
        "email": "accounts at globex",
        "time_zone": "Europe/Atlantis",
        "default_currency": "XXX",
        "contact_name": "Hank <b>Scorpio</b>",
        "notes": "Pays late.\nCall first.",
    }
    response = submit(web, "/app/clients/new", typed)
    assert response.status_code == 422
    page = html(response)
    assert field_error(page, "name") == "Required."
    assert "valid email address" in (field_error(page, "email") or "")
    assert "IANA time zone" in (field_error(page, "time_zone") or "")
    assert "ISO 4217" in (field_error(page, "default_currency") or "")
    assert field_error(page, "contact_name") is None
    for name in ("email", "time_zone", "default_currency", "contact_name", "notes"):
        assert field_value(page, name) == typed[name], name
    # The summary lists every problem in the form's order, each linking to its field.
    lines = summary(page)
    assert [line.split(":")[0] for line in lines] == [
        "Name", "Email address for reminders", "Time zone", "Currency",
    ]  # fmt: skip
    links = [a.attrs["href"] for a in page.find("div", class_="error-summary").find_all("a")]
    assert links == ["#field-name", "#field-email", "#field-time_zone", "#field-default_currency"]
    assert stored_clients(database) == []


def test_editing_a_client(web: TestClient, database: Database) -> None:
    sign_up(web)
    client_id = create_client(web)
    form = html(web.get(f"/app/clients/{client_id}/edit"))
    assert field_value(form, "name") == "Globex Corporation"
    assert field_value(form, "default_currency") == "USD"
    response = submit(
        web,
        f"/app/clients/{client_id}/edit",
        {**CLIENT, "name": "Globex Inc.", "contact_name": "", "notes": "Net 30."},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/app/clients/{client_id}"
    [(_, name, _, contact, _, _, notes, _)] = stored_clients(database)
    assert (name, contact, notes) == ("Globex Inc.", None, "Net 30.")


def test_a_blank_required_field_on_edit_is_an_error_not_a_kept_value(
    web: TestClient, database: Database
) -> None:
    sign_up(web)
    client_id = create_client(web)
    before = stored_clients(database)
    response = submit(web, f"/app/clients/{client_id}/edit", {**CLIENT, "name": "  ", "locale": ""})
    assert response.status_code == 422
    page = html(response)
    assert field_error(page, "name") == "Required."
    assert field_error(page, "locale") == "Required."
    assert stored_clients(database) == before


def test_the_list_searches_and_pages(web: TestClient) -> None:
    sign_up(web)
    for number in range(1, 56):
        create_client(web, name=f"Client {number:02d}", email=f"c{number}@example.com")
    create_client(web, name="Initech", email="bill@initech.example", contact_name="Bill L.")
    first = html(web.get("/app/clients"))
    names = [a.text for a in first.find("table").find_all("a")]
    assert len(names) == 50 and names[0] == "Client 01" and "Initech" not in names
    assert "Showing 1 to 50 of 56" in first.find("nav", class_="pagination").text
    second = html(web.get("/app/clients?offset=50"))
    assert [a.text for a in second.find("table").find_all("a")][-1] == "Initech"
    found = html(web.get("/app/clients?q=bill"))
    assert [a.text for a in found.find("table").find_all("a")] == ["Initech"]
    assert field_value(found, "q") == "bill"
    nothing = html(web.get("/app/clients?q=nobody"))
    assert "No client matches this search." in nothing.by_id("main").text


def test_a_bad_search_is_shown_on_its_field(web: TestClient) -> None:
    sign_up(web)
    create_client(web)
    response = web.get("/app/clients?q=" + "x" * 201 + "&sort=age")
    assert response.status_code == 422
    page = html(response)
    assert "at most 200 characters" in (field_error(page, "q") or "")
    assert field_error(page, "sort") is not None
    assert not page.find_all("table")


def test_the_client_page_lists_open_invoices(web: TestClient) -> None:
    sign_up(web)
    client_id = create_client(web)
    create_invoice(web, client_id, number="INV-OPEN", due_date="2026-06-01")
    create_invoice(web, client_id, number="INV-DRAFT", status="draft")
    page = html(web.get(f"/app/clients/{client_id}"))
    table = page.find("table")
    assert [a.text for a in table.find_all("a")] == ["INV-OPEN"]
    assert "1,250.00 USD" in table.text
    assert "16 days overdue" in table.text
    new_invoice = page.find("a", href=f"/app/invoices/new?client_id={client_id}")
    assert new_invoice.text == "New invoice"


def test_pausing_a_clients_reminders_until_a_date_and_resuming(
    web: TestClient, database: Database
) -> None:
    sign_up(web)
    client_id = create_client(web)
    response = submit(web, f"/app/clients/{client_id}/pause", {"until": "2026-07-15"})
    assert response.status_code == 303
    page = html(web.get(f"/app/clients/{client_id}"))
    assert flash(page) == "Reminders to Globex Corporation paused until 2026-07-15."
    assert "Paused until 15 Jul 2026" in page.find("dl", class_="facts").text
    with database.session_scope() as session:
        client = session.get(Client, client_id)
        assert client is not None and client.reminders_paused_until == date(2026, 7, 15)

    assert submit(web, f"/app/clients/{client_id}/resume").status_code == 303
    assert "Active" in html(web.get(f"/app/clients/{client_id}")).find("dl", class_="facts").text
    with database.session_scope() as session:
        client = session.get(Client, client_id)
        assert client is not None and client.reminders_paused_until is None


def test_a_pause_in_the_past_is_refused_on_its_field(web: TestClient, database: Database) -> None:
    sign_up(web)
    client_id = create_client(web)
    for until, message in [("2026-06-01", "until cannot be in the past."), ("soon", "date")]:
        response = submit(web, f"/app/clients/{client_id}/pause", {"until": until})
        assert response.status_code == 422
        page = html(response)
        assert message in (field_error(page, "until") or "").lower()
        assert field_value(page, "until") == until
    with database.session_scope() as session:
        paused = session.scalar(
            select(func.count())
            .select_from(Client)
            .where(Client.reminders_paused_until.is_not(None))
        )
    assert paused == 0


def test_client_text_is_escaped_never_run(web: TestClient) -> None:
    sign_up(web)
    hostile = "<script>alert(1)</script> {{ 7*7 }}"
    client_id = create_client(
        web, name=hostile, notes=hostile, contact_name="{% if 1 %}x{% endif %}"
    )
    for path in [f"/app/clients/{client_id}", "/app/clients", f"/app/clients/{client_id}/edit"]:
        response = web.get(path)
        assert "<script>alert(1)</script>" not in response.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in response.text, path
    page = html(web.get(f"/app/clients/{client_id}"))
    assert page.find("h1").text == hostile
    assert page.find("p", class_="notes").text == hostile
    assert page.find("title").text == f"{hostile} · DueSpark"
    assert "{% if 1 %}x{% endif %}" in page.find("dl", class_="facts").text


def test_an_address_the_sender_would_refuse_is_refused_on_its_field(
    web: TestClient, database: Database
) -> None:
    sign_up(web)
    response = submit(web, "/app/clients/new", {**CLIENT, "email": "jürgen@example.com"})
    assert response.status_code == 422
    page = html(response)
    assert "ASCII" in (field_error(page, "email") or "")
    assert field_value(page, "email") == "jürgen@example.com"
    assert stored_clients(database) == []
