"""/templates: each account's wording per tone, checked before it is saved, previewed unsaved."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from duespark.reminders.default_templates import default_template
from duespark.reminders.policy import Tone
from duespark.reminders.rendering import VARIABLES
from tests.factories import auth_headers

TONES = [tone.value for tone in Tone]
CUSTOM = {
    "subject": "Invoice {{ invoice_number }} for {{ client_name }}",
    "body": "Dear {{ contact_name }},\n\n{{ amount }} was due on {{ due_date }}.\n\n{{ pay_link }}",
}


@pytest.fixture
def headers(api: TestClient) -> dict[str, str]:
    return auth_headers(api)


def templates(api: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = api.get("/templates", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def assert_refused(response: Any, field: str, *words: str) -> str:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["field"] == field, error
    for word in words:
        assert word in error["message"], error
    return error["message"]


def test_every_tone_starts_with_the_default_wording(
    api: TestClient, headers: dict[str, str]
) -> None:
    items = templates(api, headers)
    assert [item["tone"] for item in items] == TONES
    for item in items:
        subject, body = default_template(Tone(item["tone"]))
        assert item == {"tone": item["tone"], "subject": subject, "body": body, "is_default": True}
    one = api.get("/templates/final", headers=headers).json()
    assert one == items[-1]


def test_variables_are_listed_with_descriptions(api: TestClient, headers: dict[str, str]) -> None:
    response = api.get("/templates/variables", headers=headers)
    assert response.status_code == 200
    assert response.json() == VARIABLES
    assert {"client_name", "amount", "due_date", "days_overdue", "pay_link"} <= set(VARIABLES)


def test_save_read_back_and_delete_restores_the_default(
    api: TestClient, headers: dict[str, str]
) -> None:
    saved = api.put("/templates/firm", json=CUSTOM, headers=headers)
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"tone": "firm", **CUSTOM, "is_default": False}
    assert api.get("/templates/firm", headers=headers).json() == saved.json()
    by_tone = {item["tone"]: item for item in templates(api, headers)}
    assert by_tone["firm"]["is_default"] is False
    assert all(by_tone[tone]["is_default"] for tone in TONES if tone != "firm")

    changed = {**CUSTOM, "subject": "Second version for {{ invoice_number }}"}
    again = api.put("/templates/firm", json=changed, headers=headers)
    assert again.status_code == 200 and again.json()["subject"] == changed["subject"]

    deleted = api.delete("/templates/firm", headers=headers)
    assert deleted.status_code == 204 and deleted.content == b""
    subject, body = default_template(Tone.firm)
    read = api.get("/templates/firm", headers=headers).json()
    assert read == {"tone": "firm", "subject": subject, "body": body, "is_default": True}
    assert api.delete("/templates/firm", headers=headers).status_code == 204


BAD_TEMPLATES = [
    ({"subject": "Hi", "body": "Hello\n\n{{ clent_name }}"}, "body", ["line 3", "clent_name"]),
    ({"subject": "Hi", "body": "a\n{{ amount }\n"}, "body", ["line 2", "syntax error"]),
    ({"subject": "Hi {{ nope }}", "body": "b"}, "subject", ["line 1", "nope"]),
    ({"subject": "One\nTwo", "body": "b"}, "subject", ["line 2", "single line"]),
    ({"subject": "Hi", "body": "x\n{{ ''.__class__.__mro__ }}"}, "body", ["line 2", "attribute"]),
    ({"subject": "Hi", "body": "{{ cycler.__init__.__globals__.os.getcwd() }}"}, "body", []),
    ({"subject": "Hi", "body": "{% import 'os' as os %}"}, "body", ["imports"]),
    ({"subject": "Hi", "body": "{{ client_name|safe }}"}, "body", ["safe"]),
    ({"subject": "", "body": "b"}, "subject", []),
    ({"subject": "x" * 301, "body": "b"}, "subject", []),
    ({"subject": "Hi", "body": "x" * 10_001}, "body", []),
    ({"subject": "Hi", "body": "nul \x00 here"}, "body", []),
    ({"subject": "Hi"}, "body", ["required"]),
    ({**CUSTOM, "is_default": False}, "is_default", ["unknown field"]),
]


@pytest.mark.parametrize(("payload", "field", "words"), BAD_TEMPLATES)
def test_a_bad_template_is_refused_and_nothing_changes(
    api: TestClient, headers: dict[str, str], payload: dict[str, str], field: str, words: list[str]
) -> None:
    assert api.put("/templates/neutral", json=CUSTOM, headers=headers).status_code == 200
    before = templates(api, headers)
    assert_refused(api.put("/templates/neutral", json=payload, headers=headers), field, *words)
    assert_refused(api.put("/templates/friendly", json=payload, headers=headers), field, *words)
    assert templates(api, headers) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/templates/urgent"),
        ("PUT", "/templates/urgent"),
        ("DELETE", "/templates/FRIENDLY"),
        ("POST", "/templates/angry/preview"),
    ],
)
def test_an_unknown_tone_is_refused(
    api: TestClient, headers: dict[str, str], method: str, path: str
) -> None:
    body = CUSTOM if method == "PUT" else None
    response = api.request(method, path, json=body, headers=headers)
    assert_refused(response, "tone")


def test_templates_belong_to_their_account(api: TestClient) -> None:
    alice = auth_headers(api, email="alice@example.com")
    bob = auth_headers(api, email="bob@example.com")
    assert api.put("/templates/friendly", json=CUSTOM, headers=alice).status_code == 200

    bobs = api.get("/templates/friendly", headers=bob).json()
    assert bobs["is_default"] is True and bobs["subject"] == default_template(Tone.friendly)[0]
    assert all(item["is_default"] for item in templates(api, bob))
    preview = api.post("/templates/friendly/preview", headers=bob).json()
    assert not preview["subject"].startswith("Invoice INV-0042 for")

    assert api.delete("/templates/friendly", headers=bob).status_code == 204
    assert api.get("/templates/friendly", headers=alice).json()["is_default"] is False

    bob_version = {**CUSTOM, "subject": "Bob's {{ invoice_number }}"}
    assert api.put("/templates/friendly", json=bob_version, headers=bob).status_code == 200
    assert api.get("/templates/friendly", headers=alice).json()["subject"] == CUSTOM["subject"]


def test_templates_need_a_login(api: TestClient) -> None:
    for method, path in [("GET", "/templates"), ("GET", "/templates/variables")]:
        assert api.request(method, path).status_code == 401
    assert api.put("/templates/firm", json=CUSTOM).status_code == 401
    assert api.post("/templates/firm/preview").status_code == 401


def test_preview_renders_the_current_template_against_a_sample(
    api: TestClient, headers: dict[str, str]
) -> None:
    response = api.post("/templates/neutral/preview", headers=headers)
    assert response.status_code == 200, response.text
    email = response.json()
    assert set(email) == {"subject", "text", "html"}
    assert email["subject"] == "Reminder: invoice INV-0042 is 3 days overdue"
    assert "Hello Jane Doe," in email["text"]
    assert "€1,250.00" in email["text"] and "3 days overdue" in email["text"]
    assert email["text"].rstrip().endswith("Ada Lovelace\nAnalytical Engines Ltd")
    assert '<a href="https://' in email["html"] and '<html lang="en">' in email["html"]

    api.put("/templates/neutral", json=CUSTOM, headers=headers)
    saved = api.post("/templates/neutral/preview", headers=headers).json()
    assert saved["subject"] == "Invoice INV-0042 for Acme Ltd"


def test_preview_of_a_draft_saves_nothing(api: TestClient, headers: dict[str, str]) -> None:
    draft = {"subject": "Hi {{ client_name }} & co", "body": "<b>{{ amount }}</b>"}
    response = api.post("/templates/final/preview", json=draft, headers=headers)
    assert response.status_code == 200, response.text
    email = response.json()
    assert email["subject"] == "Hi Acme Ltd & co"
    assert email["text"] == "<b>€1,250.00</b>\n"
    assert "&lt;b&gt;€1,250.00&lt;/b&gt;" in email["html"] and "<b>" not in email["html"]

    only_subject = api.post(
        "/templates/final/preview", json={"subject": "Just {{ tone }}"}, headers=headers
    ).json()
    assert only_subject["subject"] == "Just final"
    assert "This is our final notice" in only_subject["text"]
    assert all(item["is_default"] for item in templates(api, headers))


def test_preview_refuses_a_bad_draft_with_its_line(
    api: TestClient, headers: dict[str, str]
) -> None:
    draft = {"body": "ok\n{{ client_name.__class__ }}"}
    response = api.post("/templates/firm/preview", json=draft, headers=headers)
    assert_refused(response, "body", "line 2", "attribute")
    extra = api.post("/templates/firm/preview", json={"html": "x"}, headers=headers)
    assert_refused(extra, "html", "unknown field")
