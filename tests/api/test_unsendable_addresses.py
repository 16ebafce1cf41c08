"""An address the mail layer would refuse is refused where it is typed: the API, the
pages (``tests/web/test_client_pages.py``) and the CSV import answer 422 naming the
field, by the sender's own rules (``duespark.email.message.sendable_address``), and store
nothing. Runs on SQLite and PostgreSQL; the property below needs no database."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from duespark.email.message import sendable_address
from duespark.kit.fields import Email
from tests.api.test_clients import assert_error
from tests.api.test_invoice_import import HEADER, csv_file, refused, upload
from tests.factories import PASSWORD, auth_headers, create_client

# Each accepted by a plain email validator (internationalised mailbox names are valid
# addresses), none deliverable by an SMTP server without SMTPUTF8, which DueSpark's sender
# does not ask for.
UNSENDABLE = ["jürgen@example.com", "Jürgen@Bücher.example", "用户@example.com"]
EMAIL = TypeAdapter(Email)


@pytest.mark.parametrize("address", UNSENDABLE)
def test_creating_a_client_with_an_unsendable_address_is_refused(
    api: TestClient, address: str
) -> None:
    headers = auth_headers(api)
    body = {"name": "Jürgen", "email": address, "time_zone": "UTC", "default_currency": "EUR"}
    message = assert_error(
        api.post("/clients", json=body, headers=headers), 422, "invalid_input", "email"
    )
    assert "ASCII" in message
    assert api.get("/clients", headers=headers).json()["total"] == 0


def test_changing_a_clients_address_to_an_unsendable_one_is_refused(api: TestClient) -> None:
    headers = auth_headers(api)
    client = create_client(api, headers)
    response = api.patch(f"/clients/{client['id']}", json={"email": UNSENDABLE[0]}, headers=headers)
    assert_error(response, 422, "invalid_input", "email")
    assert api.get(f"/clients/{client['id']}", headers=headers).json()["email"] == client["email"]


def test_an_account_with_an_unsendable_address_is_refused(api: TestClient) -> None:
    """The account's address is the Reply-To of every reminder it sends."""
    body = {"email": UNSENDABLE[0], "password": PASSWORD, "name": "J", "time_zone": "UTC"}
    assert_error(api.post("/auth/register", json=body), 422, "invalid_input", "email")
    login = {"username": UNSENDABLE[0], "password": PASSWORD}
    assert api.post("/auth/login", data=login).status_code == 401


def test_an_import_naming_an_unsendable_client_is_refused_on_its_line(api: TestClient) -> None:
    headers = auth_headers(api)
    content = csv_file(
        "E-1,ok@example.com,Fine,10.00,EUR,2001-01-01,2001-01-31,open,,,",
        f"E-2,{UNSENDABLE[0]},Jürgen,10.00,EUR,2001-01-01,2001-01-31,open,,,",
        header=HEADER,
    )
    error = refused(api, headers, content)
    assert [(entry["line"], entry["field"]) for entry in error["errors"]] == [(3, "client_email")]
    assert "ASCII" in error["errors"][0]["message"]
    skipped = upload(api, headers, content, skip_invalid="true")
    assert skipped.status_code == 200, skipped.text
    emails = {client["email"] for client in api.get("/clients", headers=headers).json()["items"]}
    assert emails == {"ok@example.com"}


@given(st.emails() | st.from_regex(r"[a-zA-Zäöü0-9._%+-]{1,20}@[a-zäöü]{1,10}\.example"))
def test_every_address_the_api_accepts_is_one_the_sender_can_send_to(address: str) -> None:
    try:
        accepted = EMAIL.validate_python(address)
    except ValidationError:
        return
    assert sendable_address(accepted) == sendable_address(accepted.lower())
