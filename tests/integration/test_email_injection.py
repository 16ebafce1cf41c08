"""User text in reminder emails, end to end on SQLite and PostgreSQL: written through the
API, rendered by the real worker, relayed to a real SMTP server on loopback, parsed back with
the standard library's strict policy.

Markup and template syntax in every field that reaches an email arrive escaped in the HTML
part and literal in the text part and headers, and never run; unsafe templates are refused
(and not run if stored anyway); a line break in a name, address or subject is refused with
nothing stored, or stays inside its one header: no extra header, no extra recipient. Client
and invoice notes never reach an email.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select

from duespark.db import Database
from duespark.email.sender import sender_from_settings
from duespark.models import Client, EmailTemplate, Invoice, User
from duespark.worker.main import Worker
from tests.api.test_clients import assert_error
from tests.conftest import make_settings
from tests.factories import PASSWORD, auth_headers, create_client, create_invoice
from tests.smtp import Received, SmtpCapture, smtp_capture

NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)  # Monday 10:30 in Berlin: only the final step
FROM_ADDRESS = "reminders@duespark.example"
RECIPIENT = "ap@client.example"
ATTACKER = "attacker@example.com"
NOTES = "<script>alert('notes')</script>{{ 7*7 }}"
BERLIN = "Europe/Berlin"
OVERDUE = {
    "issue_date": "2026-09-01",
    "due_date": "2026-10-01",
    "payment_url": "https://pay.example/i?a=1&b=2",
}
WIRE_HEADERS = Counter(
    ["from", "to", "reply-to", "subject", "date", "message-id", "mime-version", "content-type"]
)
SAFE_TAGS = {"html", "head", "meta", "title", "body", "div", "p", "br", "a"}
HOSTILE = {
    "client_name": "<script>alert(1)</script>{{ 7*7 }}",
    "contact_name": "<img src=x onerror=alert(2)>{% if 1 %}if{% endif %}",
    "business_name": "<b onclick=alert(3)>Biz</b>{{ ''.__class__ }}",
    "sender_name": '"><svg onload=alert(4)>{% for x in y %}',
    "invoice_number": "<i>INV</i>{{ 7*7 }}{# c #}",
}
EVERY_NAME = " | ".join(f"{{{{ {name} }}}}" for name in HOSTILE)
CUSTOM = {
    "subject": f"Re: {EVERY_NAME}",
    "body": "Dear {{ contact_name }} of {{ client_name }},\n\n<script>alert('template')</script>"
    " {{ invoice_number }}\n\n{{ pay_link }}\n\n{{ sender_name }}\n{{ business_name }}",
}


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    with smtp_capture() as handler:
        yield handler


# ── helpers ────────────────────────────────────────────────────────────────────────────────


def account(api: TestClient, *, template: dict[str, str] | None = None, **fields: str) -> Any:
    """An account with one client and one invoice 60 days overdue; ``fields`` override the
    names (keys of ``HOSTILE``). Returns (headers, client, invoice)."""
    values = {"sender_name": "Ada Lovelace", "business_name": "", **fields}
    headers = auth_headers(api, name=values["sender_name"], business_name=values["business_name"])
    names = {"name": values.get("client_name", "Globex")}
    names["contact_name"] = values.get("contact_name", "Hank")
    client = create_client(api, headers, email=RECIPIENT, time_zone=BERLIN, notes=NOTES, **names)
    number = values.get("invoice_number", "INV-1")
    invoice = create_invoice(api, headers, client["id"], number=number, notes=NOTES, **OVERDUE)
    if template is not None:
        saved = api.put("/templates/final", json=template, headers=headers)
        assert saved.status_code == 200, saved.text
    return headers, client, invoice


def deliver(database: Database, smtp: SmtpCapture) -> Received:
    """One real worker pass at ``NOW`` over SMTP; exactly one email must arrive."""
    settings = make_settings(
        database.url,
        DUESPARK_EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}?timeout=5",
        DUESPARK_EMAIL_FROM=FROM_ADDRESS,
    )
    result = Worker(database, settings, sender_from_settings(settings), now_fn=lambda: NOW)
    assert result.run_once().sent == 1
    received = smtp.snapshot()
    assert len(received) == 1, received
    return received[0]


def parse(received: Received) -> tuple[email.message.EmailMessage, str, str]:
    """The message under the strict policy, with no defects anywhere, and its two parts."""
    message = email.message_from_bytes(received.content, policy=email.policy.strict)
    assert isinstance(message, email.message.EmailMessage)
    assert not message.defects
    for name, value in message.items():
        assert not getattr(value, "defects", ()), (name, value)
        assert "\r" not in value and "\n" not in value, (name, value)
    text, html = (message.get_body((kind,)) for kind in ("plain", "html"))
    assert text is not None and html is not None
    return message, text.get_content(), html.get_content()


def assert_one_recipient_and_no_extra_header(received: Received, recipient: str) -> None:
    message, _, _ = parse(received)
    assert received.rcpt_tos == [recipient]
    assert Counter(name.lower() for name in message) == WIRE_HEADERS
    head = received.content.split(b"\r\n\r\n", 1)[0]
    assert re.search(rb"\r(?!\n)|(?<!\r)\n", head) is None, "a bare CR or LF in the headers"
    assert not re.search(rb"^(bcc|cc):", head, re.IGNORECASE | re.MULTILINE)
    assert [address.addr_spec for address in message["To"].addresses] == [recipient]
    for name in ("From", "Reply-To"):
        addresses = message[name].addresses
        assert len(addresses) == 1 and ATTACKER not in addresses[0].addr_spec, (name, addresses)
    assert message["From"].addresses[0].addr_spec == FROM_ADDRESS


class _Tags(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)


def assert_inert(subject: str, text: str, html: str) -> None:
    """No markup of ours became markup, no template syntax ran, no notes leaked."""
    parsed = _Tags(html)
    assert parsed.tags <= SAFE_TAGS, parsed.tags - SAFE_TAGS
    assert not {name for name in parsed.attributes if name.startswith("on")}
    for part in (subject, text, html):
        assert "49" not in part and "<class" not in part, part
        assert "notes" not in part, "notes never reach an email"


def one_line(value: str) -> str:
    return " ".join(re.sub(r"[\x00-\x1f\x7f\x85\u2028\u2029]", " ", value).split())


def stored(database: Database) -> list[tuple[Any, ...]]:
    with database.session_scope() as session:
        tables = (User, Client, Invoice, EmailTemplate)
        return [tuple(row) for model in tables for row in session.execute(select(model.__table__))]


# ── markup and template syntax in values ───────────────────────────────────────────────────


@pytest.mark.parametrize("template", [None, CUSTOM], ids=["default-template", "own-template"])
def test_markup_and_template_syntax_in_every_field_arrive_escaped_and_inert(
    api: TestClient, database: Database, smtp: SmtpCapture, template: dict[str, str] | None
) -> None:
    _, _, invoice = account(api, template=template, **HOSTILE)
    assert invoice["number"] == HOSTILE["invoice_number"]
    received = deliver(database, smtp)
    assert_one_recipient_and_no_extra_header(received, RECIPIENT)
    message, text, html = parse(received)
    subject = str(message["Subject"])
    assert message["From"].addresses[0].display_name == HOSTILE["business_name"]
    shown = HOSTILE if template else {k: v for k, v in HOSTILE.items() if k != "client_name"}
    for field, value in shown.items():
        assert value in text, field
        assert str(escape(value)) in html, field
    if template:
        assert subject == "Re: " + " | ".join(HOSTILE.values())
        assert "<script>alert('template')</script>" in text
        assert "&lt;script&gt;alert(&#39;template&#39;)&lt;/script&gt;" in html
    else:
        assert subject.startswith(f"Final notice: invoice {HOSTILE['invoice_number']} (")
    assert_inert(subject, text, html)


UNSAFE_TEMPLATES = [
    ("subject", "{{ ''.__class__ }}"),
    ("subject", "Invoice {{ 7*7 }}"),
    ("body", "{{ ''.__class__.__mro__[1].__subclasses__() }}"),
    ("body", "{% for c in client_name %}{{ c }}{% endfor %}"),
    ("body", "{{ client_name|attr('__class__') }}"),
    ("body", "{{ client_name.upper() }}"),
    ("body", "{% set x = 7 %}{{ x }}"),
    ("body", "{% include '/etc/passwd' %}"),
    ("body", "{{ lipsum.__globals__ }}"),
    ("body", "{% autoescape false %}{{ client_name }}{% endautoescape %}"),
    ("body", "{{ client_name|safe }}"),
]
STORED_UNSAFE = {
    "subject": "{{ ''.__class__ }} {{ 7*7 }}",
    "body": "{% for c in client_name %}{{ c.__class__.__mro__ }}{% endfor %}{{ 7*7 }}",
    "created_at": NOW,
    "updated_at": NOW,
}


def test_templates_that_reach_objects_or_compute_are_refused_and_never_run(
    api: TestClient, database: Database, smtp: SmtpCapture
) -> None:
    headers, _, _ = account(api, client_name="{{ 7*7 }}")
    before = stored(database)
    for field, source in UNSAFE_TEMPLATES:
        body = {"subject": "Hi", "body": "Hi", field: source}
        assert_error(api.put("/templates/final", json=body, headers=headers), 422, "invalid_input")
        assert stored(database) == before, source
    assert api.get("/templates/final", headers=headers).json()["is_default"] is True

    # Saved under looser rules (or written by hand): re-checked when sent, never run.
    user_id = api.get("/auth/me", headers=headers).json()["id"]
    with database.session_scope() as session:
        session.add(EmailTemplate(user_id=user_id, tone="final", **STORED_UNSAFE))
    message, text, html = parse(deliver(database, smtp))
    subject = str(message["Subject"])
    assert subject.startswith("Final notice: invoice INV-1 ("), "the default wording goes"
    assert "Hello Hank," in text and "__" not in text + html
    assert_inert(subject, text, html)


# ── header injection ───────────────────────────────────────────────────────────────────────

NAME_PAYLOADS = [
    "Evil\r\nBcc: attacker@example.com",
    "Evil\nBcc: attacker@example.com",
    "Evil\u2028Bcc: attacker@example.com\x85Cc: attacker@example.com",
    "=?utf-8?q?Evil=0D=0ABcc=3A_attacker@example.com?=",
    'Evil" <attacker@example.com>, "Bcc',
]
EMAIL_PAYLOADS = [
    f"{RECIPIENT}\r\nBcc: {ATTACKER}",
    f"{RECIPIENT}\u2028Bcc: {ATTACKER}",
    f"{RECIPIENT}, {ATTACKER}",
    f'"{ATTACKER}" <{RECIPIENT}>',
]
# field -> (method, path, key in the request body)
CHANGES = {
    "sender_name": ("PATCH", "/auth/me", "name"),
    "business_name": ("PATCH", "/auth/me", "business_name"),
    "client_name": ("PATCH", "/clients/{client}", "name"),
    "contact_name": ("PATCH", "/clients/{client}", "contact_name"),
    "invoice_number": ("PATCH", "/invoices/{invoice}", "number"),
    "template_subject": ("PUT", "/templates/final", "subject"),
    "client_email": ("PATCH", "/clients/{client}", "email"),
}
CASES = [
    (field, payload)
    for field in CHANGES
    for payload in (EMAIL_PAYLOADS if field == "client_email" else NAME_PAYLOADS)
]


@pytest.mark.parametrize(("field", "payload"), CASES)
def test_a_line_break_is_refused_or_stays_inside_its_one_header(
    api: TestClient, database: Database, smtp: SmtpCapture, field: str, payload: str
) -> None:
    headers, client, invoice = account(api, template=CUSTOM)
    method, path, key = CHANGES[field]
    body = {key: payload}
    if field == "template_subject":
        body = {key: f"{EVERY_NAME} {payload}", "body": CUSTOM["body"]}
    url = path.format(client=client["id"], invoice=invoice["id"])
    before = stored(database)
    response = api.request(method, url, json=body, headers=headers)
    refused = response.status_code == 422
    if refused:
        assert_error(response, 422, "invalid_input", key)
        assert stored(database) == before, "a refused change stores nothing"
    else:
        assert response.status_code == 200, response.text

    received = deliver(database, smtp)
    recipient = api.get(f"/clients/{client['id']}", headers=headers).json()["email"]
    assert_one_recipient_and_no_extra_header(received, recipient)
    assert recipient == RECIPIENT or not refused
    message, _, _ = parse(received)
    if not refused and field != "client_email":
        assert one_line(payload) in str(message["Subject"]), "the value stays in the subject"
    if not refused and field in ("sender_name", "business_name"):
        # Python's address parser keeps the space between two adjacent encoded words,
        # which RFC 2047 (and mail readers) drop: compare without whitespace.
        shown = message["From"].addresses[0].display_name
        assert shown.replace(" ", "") == one_line(payload).replace(" ", "")


CREATIONS = {
    "/auth/register": ("name", "business_name", "email"),
    "/clients": ("name", "contact_name", "email"),
    "/invoices": ("number",),
}


def test_a_crlf_in_a_new_account_client_or_invoice_is_refused_and_nothing_is_stored(
    api: TestClient, database: Database, smtp: SmtpCapture
) -> None:
    headers, client, _ = account(api)
    bases: dict[str, dict[str, Any]] = {
        "/auth/register": {"email": "eve@example.com", "password": PASSWORD, "name": "Eve"},
        "/clients": {"name": "Initech", "email": "ap@initech.example", "time_zone": BERLIN},
        "/invoices": {"client_id": client["id"], "number": "INV-2", "amount": "1.00", **OVERDUE},
    }
    bases["/clients"]["default_currency"] = "EUR"
    for path, key in [(path, key) for path, keys in CREATIONS.items() for key in keys]:
        for line_break in ("\r\n", "\n", "\r"):
            value = f"{bases[path].get(key, 'x')}{line_break}Bcc: {ATTACKER}"
            before = stored(database)
            response = api.post(path, json={**bases[path], key: value}, headers=headers)
            assert_error(response, 422, "invalid_input", key)
            assert stored(database) == before, (path, key)
    assert_one_recipient_and_no_extra_header(deliver(database, smtp), RECIPIENT)
