"""``duespark status``'s judgement calls on the configuration, as pure functions."""

from __future__ import annotations

from duespark.ops.status import Level, check_configuration, configuration_notes, human_duration
from tests.conftest import TEST_SECRET_KEY, make_settings

PRODUCTION_MAIL = {
    "DUESPARK_ENV": "production",
    "SECRET_KEY": TEST_SECRET_KEY,
    "DUESPARK_EMAIL_URL": "smtps://mailer:pw-0123456789@smtp.example:465",
    "DUESPARK_EMAIL_FROM": "Ada <ada@engines.example>",
    "DUESPARK_BASE_URL": "https://duespark.example",
    "DUESPARK_METRICS_TOKEN": "0123456789abcdef0123456789abcdef",
}


def _notes(url: str, **environ: str) -> dict[str, Level]:
    return {message: level for level, message in configuration_notes(make_settings(url, **environ))}


def test_a_proper_production_setup_has_nothing_to_say() -> None:
    settings = make_settings("postgresql://u@db/duespark", **PRODUCTION_MAIL)
    check = check_configuration(settings)
    assert check.level is Level.ok
    assert check.detail.startswith("production, PostgreSQL, mail via smtps://mailer@smtp.example")
    assert "pw-0123456789" not in check.detail


def test_production_on_sqlite_with_http_links_warns() -> None:
    notes = _notes(
        "sqlite:///./x.db", **{**PRODUCTION_MAIL, "DUESPARK_BASE_URL": "http://duespark.example"}
    )
    assert notes == {
        "SQLite in production: one server process only; use PostgreSQL": Level.warn,
        "DUESPARK_BASE_URL is http://: serve and link over https": Level.warn,
    }


def test_production_that_never_sends_mail_fails() -> None:
    settings = make_settings(
        "postgresql://u@db/duespark", **{**PRODUCTION_MAIL, "DUESPARK_EMAIL_URL": "file:///tmp/m"}
    )
    check = check_configuration(settings)
    assert check.level is Level.fail
    assert "reminders are never sent" in check.detail


def test_production_links_to_localhost_and_plaintext_smtp_passwords_warn() -> None:
    notes = _notes(
        "postgresql://u@db/duespark",
        **{
            **PRODUCTION_MAIL,
            "DUESPARK_BASE_URL": "https://127.0.0.1:8000",
            "DUESPARK_EMAIL_URL": "smtp://mailer:pw-0123456789@smtp.example:25",
        },
    )
    assert notes["DUESPARK_BASE_URL is local: links in emails cannot work"] is Level.warn
    assert any("unencrypted" in message and level is Level.warn for message, level in notes.items())
    starttls = _notes(
        "postgresql://u@db/duespark",
        **{**PRODUCTION_MAIL, "DUESPARK_EMAIL_URL": "smtp://m:pw-0123@smtp.example?starttls=true"},
    )
    assert not any("unencrypted" in message for message in starttls)


def test_production_without_a_metrics_token_is_noted_not_warned() -> None:
    environ = {k: v for k, v in PRODUCTION_MAIL.items() if k != "DUESPARK_METRICS_TOKEN"}
    notes = _notes("postgresql://u@db/duespark", **environ)
    assert notes == {"GET /metrics is refused: set DUESPARK_METRICS_TOKEN": Level.ok}


def test_development_mode_on_a_public_https_address_warns() -> None:
    notes = _notes("sqlite:///./x.db", DUESPARK_BASE_URL="https://duespark.example")
    assert [level for level in notes.values()] == [Level.warn]
    assert "set DUESPARK_ENV=production" in next(iter(notes))
    assert _notes("sqlite:///./x.db") == {}


def test_durations_read_like_a_person_would_say_them() -> None:
    assert human_duration(0) == "0 s"
    assert human_duration(119) == "119 s"
    assert human_duration(600) == "10 min"
    assert human_duration(3 * 3600 + 5 * 60) == "3 h 5 min"
    assert human_duration(2 * 86400 + 4 * 3600) == "2 d 4 h"
