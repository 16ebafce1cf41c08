"""CSV pages: importing a spreadsheet (every bad row listed with its line and reason,
all or nothing unless bad rows are skipped, twice creates nothing twice) and exporting
the invoice list to a signed-in browser."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select

from duespark.db import Database
from duespark.models import Client, Invoice
from tests.web.helpers import (
    create_client,
    create_invoice,
    field_error,
    html,
    sign_up,
    token,
)
from tests.web.html import Element

GOOD = (
    "number,client_email,client_name,amount,currency,due_date\n"
    "IMP-1,new@client.example,New Client Ltd,100.00,EUR,2026-07-01\n"
    "IMP-2,new@client.example,,250.50,EUR,2026-07-15\n"
)
MIXED = (
    "number,client_email,client_name,amount,currency,due_date\n"
    "OK-1,a@client.example,A Ltd,10.00,GBP,2026-07-01\n"
    'BAD-2,a@client.example,,"1,250.00",GBP,2026-07-01\n'
    "BAD-3,a@client.example,,5.00,GBP,31/07/2026\n"
)


def upload(
    web: TestClient, content: str | bytes, *, skip_invalid: bool = False, name: str = "books.csv"
) -> Response:
    data: dict[str, Any] = {"csrf_token": token(web)}
    if skip_invalid:
        data["skip_invalid"] = "true"
    raw = content.encode() if isinstance(content, str) else content
    return web.post("/app/invoices/import", data=data, files={"file": (name, raw, "text/csv")})


def numbers(database: Database) -> list[str]:
    with database.session_scope() as session:
        return list(session.scalars(select(Invoice.number).order_by(Invoice.number)))


def problems(page: Element) -> list[list[str]]:
    table = page.find("table", class_="row-errors")
    return [
        [cell.text for cell in row.find_all("td")] for row in table.find("tbody").find_all("tr")
    ]


def test_the_import_page_explains_the_columns(web: TestClient) -> None:
    sign_up(web)
    page = html(web.get("/app/invoices/import"))
    form = page.find("form", action="/app/invoices/import")
    assert form.attrs["enctype"] == "multipart/form-data"
    assert page.by_id("field-file").attrs["type"] == "file"
    columns = page.find("section", **{"aria-labelledby": "columns"}).find_all("code")
    assert [code.text for code in columns][:3] == ["number", "client_email", "client_name"]
    listing = html(web.get("/app/invoices"))
    assert listing.find("a", href="/app/invoices/import").text == "Import CSV"


def test_a_good_file_is_imported_and_counted(web: TestClient, database: Database) -> None:
    sign_up(web)
    response = upload(web, GOOD)
    assert response.status_code == 200, response.text
    page = html(response)
    result = page.find("section", role="status")
    assert result.find("h2").text == "books.csv imported"
    assert [item.text for item in result.find_all("li")] == [
        "2 invoices created",
        "0 already there, unchanged",
        "1 client created",
    ]
    assert numbers(database) == ["IMP-1", "IMP-2"]
    with database.session_scope() as session:
        assert session.scalar(select(Client.name)) == "New Client Ltd"
    again = html(upload(web, GOOD)).find("section", role="status")
    assert "2 already there, unchanged" in again.text and "0 invoices created" in again.text
    assert numbers(database) == ["IMP-1", "IMP-2"]


def test_bad_rows_are_listed_by_line_and_nothing_is_imported(
    web: TestClient, database: Database
) -> None:
    sign_up(web)
    response = upload(web, MIXED)
    assert response.status_code == 422
    page = html(response)
    rows = problems(page)
    assert [row[:2] for row in rows] == [["3", "amount"], ["4", "due_date"]]
    assert "dot for the decimals" in rows[0][2]
    assert "YYYY-MM-DD" in rows[1][2]
    assert "Nothing was imported" in page.by_id("main").text
    assert numbers(database) == []


def test_skipping_bad_rows_imports_the_others(web: TestClient, database: Database) -> None:
    sign_up(web)
    page = html(upload(web, MIXED, skip_invalid=True))
    assert "2 bad rows skipped" in page.find("section", role="status").text
    assert [row[0] for row in problems(page)] == ["3", "4"]
    assert "checked" in page.by_id("field-skip_invalid").attrs
    assert numbers(database) == ["OK-1"]


def test_a_file_that_cannot_be_read_and_a_missing_file(web: TestClient, database: Database) -> None:
    sign_up(web)
    unreadable = upload(
        web, GOOD.encode() + b"IMP-3,\xff\xfe@client.example,,1.00,EUR,2026-07-01\n"
    )
    assert unreadable.status_code == 422
    assert problems(html(unreadable))[0][0] == "4"
    missing = web.post(
        "/app/invoices/import",
        data={"csrf_token": token(web)},
        files={"file": ("", b"", "application/octet-stream")},
    )
    assert missing.status_code == 422
    assert field_error(html(missing), "file") == "Choose a CSV file to import."
    assert numbers(database) == []


def test_the_import_needs_this_sites_token(web: TestClient, database: Database) -> None:
    sign_up(web)
    response = web.post(
        "/app/invoices/import",
        data={"csrf_token": "forged"},
        files={"file": ("books.csv", GOOD.encode(), "text/csv")},
    )
    assert response.status_code == 403
    assert numbers(database) == []


def test_user_text_in_row_errors_is_escaped(web: TestClient) -> None:
    sign_up(web)
    hostile = (
        "number,client_email,client_name,amount,currency,due_date\n"
        "<script>x</script>,not-an-email,<b>N</b>,5.00,EUR,2026-07-01\n"
    )
    response = upload(web, hostile)
    assert response.status_code == 422
    assert "<script>" not in response.text and "<b>N</b>" not in response.text


def test_the_list_exports_what_it_shows(web: TestClient) -> None:
    sign_up(web)
    client_id = create_client(web)
    create_invoice(web, client_id, number="LATE-1", due_date="2026-06-10")
    create_invoice(web, client_id, number="LATER-2", due_date="2026-07-10")
    listing = html(web.get("/app/invoices?overdue=true"))
    link = listing.find("a", download="")
    assert link.attrs["href"] == "/app/invoices/export.csv?overdue=true"
    response = web.get(link.attrs["href"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="invoices-2026-06-17.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.text.removeprefix("\ufeff"))))
    assert rows[0][:2] == ["number", "client_email"]
    assert [row[0] for row in rows[1:]] == ["LATE-1"]
    everything = web.get("/app/invoices/export.csv")
    assert everything.text.count("LATE") == 2
    assert web.get("/app/invoices/export.csv?due_before=soon").status_code == 422


def test_the_export_is_for_signed_in_browsers_only(web: TestClient) -> None:
    response = web.get("/app/invoices/export.csv")
    assert response.status_code == 303
    assert response.headers["location"] == "/app/login?next=/app/invoices/export.csv"
