"""Secrets never leave in an incident folder: by value (whatever text they hide in) and by
shape (credentials we were not told about)."""

from __future__ import annotations

import json
import secrets
from urllib.parse import quote

from duespark.config import Settings
from duespark.ops.redaction import (
    MASK,
    redact_data,
    redact_text,
    redact_url,
    redacted_settings,
    secret_values,
)
from tests.conftest import make_settings


def _planted() -> dict[str, str]:
    return {
        "key": secrets.token_urlsafe(40),
        "fallback": secrets.token_urlsafe(40),
        "db": "db-" + secrets.token_hex(8) + "@/:?",
        "smtp": "smtp-" + secrets.token_hex(8),
        "metrics": secrets.token_hex(24),
    }


def _settings(planted: dict[str, str]) -> Settings:
    return make_settings(
        f"postgresql://duespark:{quote(planted['db'], safe='')}@db.internal:5432/duespark",
        SECRET_KEY=planted["key"],
        SECRET_KEY_FALLBACKS=planted["fallback"],
        DUESPARK_EMAIL_URL=f"smtp://mailer:{planted['smtp']}@smtp.example:587?starttls=true",
        DUESPARK_METRICS_TOKEN=planted["metrics"],
    )


def test_every_configured_secret_is_known_by_value() -> None:
    planted = _planted()
    assert set(secret_values(_settings(planted))) == set(planted.values())


def test_secrets_are_replaced_wherever_they_appear_also_percent_encoded() -> None:
    planted = _planted()
    values = secret_values(_settings(planted))
    text = (
        f"jwt signed with {planted['key']}; old key {planted['fallback']}\n"
        f"SMTP said: 535 auth failed for {planted['smtp']}\n"
        f"dsn=host=db password {quote(planted['db'], safe='')} (encoded) and {planted['db']}\n"
        f"scrape header {planted['metrics']}"
    )
    cleaned = redact_text(text, values)
    for value in planted.values():
        assert value not in cleaned
        assert quote(value, safe="") not in cleaned
    assert cleaned.count(MASK) >= 6
    assert "SMTP said: 535 auth failed for" in cleaned  # the rest of the text survives


def test_credentials_of_unknown_secrets_are_masked_by_shape() -> None:
    text = (
        "postgresql://admin:hunter22@10.0.0.5/prod and smtps://u:p4ss@mail.example:465 "
        "password=abc123 token: 'zzz999' ALTER ROLE app PASSWORD 'Sup3r s3cret' "
        "Authorization: Bearer eyJhbGciOi.payload.sig"
    )
    cleaned = redact_text(text)
    for leaked in ("hunter22", "p4ss", "abc123", "zzz999", "Sup3r s3cret", "eyJhbGciOi"):
        assert leaked not in cleaned, leaked
    assert "postgresql://admin:[REDACTED]@10.0.0.5/prod" in cleaned
    assert "Bearer [REDACTED]" in cleaned


def test_short_secrets_are_not_replaced_by_value_but_still_masked_in_urls() -> None:
    # Replacing every "abc" in a report would mangle it and reveal the password anyway.
    settings = make_settings("postgresql://u:abc@db/x")
    assert secret_values(settings) == sorted(secret_values(settings), key=len, reverse=True)
    assert "abc" not in secret_values(settings)
    assert redact_url(settings.database_url) == "postgresql+psycopg://u:[REDACTED]@db/x"


def test_redact_url_keeps_everything_but_the_password() -> None:
    assert redact_url("smtp://mailer:pw@smtp.example:587?starttls=true") == (
        "smtp://mailer:[REDACTED]@smtp.example:587?starttls=true"
    )
    assert (
        redact_url("postgresql://u:pw@[::1]:5432/db") == "postgresql://u:[REDACTED]@[::1]:5432/db"
    )
    assert redact_url("sqlite:///./duespark.db") == "sqlite:///./duespark.db"
    assert redact_url(None) is None


def test_redacted_settings_say_set_but_never_show_a_secret() -> None:
    planted = _planted()
    shown = redacted_settings(_settings(planted))
    flat = json.dumps(shown)
    for value in planted.values():
        assert value not in flat
    assert shown["SECRET_KEY"].startswith("set")
    assert shown["DUESPARK_METRICS_TOKEN"].startswith("set")
    assert shown["SECRET_KEY_FALLBACKS"].startswith("1 key(s)")
    assert shown["DATABASE_URL"].endswith("@db.internal:5432/duespark")
    assert "mailer:[REDACTED]@smtp.example" in shown["DUESPARK_EMAIL_URL"]


def test_structures_are_redacted_before_serialisation() -> None:
    # A secret with a quote and a backslash would be escaped in JSON text, so a search for
    # its plain form after serialising would miss it.
    tricky = 'q"uo\\te-' + secrets.token_hex(8)
    data = {"sessions": [{"query": f"SELECT '{tricky}'"}], "n": 3, "nested": ({"a": tricky},)}
    text = json.dumps(redact_data(data, [tricky]))
    assert tricky not in text and json.dumps(tricky)[1:-1] not in text
    assert json.loads(text)["n"] == 3
