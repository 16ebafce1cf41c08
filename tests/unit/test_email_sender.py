"""Email messages and senders: MIME shape, header-injection safety, the file, console and
recording senders, choosing a sender from the settings, and SMTP against a real server.

The SMTP tests talk to a real aiosmtpd server on 127.0.0.1 (a random free port, a few
messages, seconds-bounded timeouts) from ``tests/smtp.py``; nothing leaves the machine.
"""

from __future__ import annotations

import email
import email.policy
import io
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, Envelope, Session

from duespark.config import ConfigError
from duespark.email.errors import DeliveryFailed, InvalidEmail, TransportUnavailable
from duespark.email.local import ConsoleSender, FileSender, eml_name
from duespark.email.message import EmailMessage, format_address, make_message_id
from duespark.email.recording import RecordingSender
from duespark.email.sender import sender_from_settings, sender_from_url
from duespark.email.smtp import SmtpSender
from tests.conftest import make_settings
from tests.smtp import SmtpCapture, free_port, smtp_capture

SENT_AT = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    with smtp_capture() as handler:
        yield handler


def smtp_sender(port: int, **overrides: Any) -> SmtpSender:
    return SmtpSender(host="127.0.0.1", port=port, timeout=5, local_hostname="test", **overrides)


def message(**overrides: Any) -> EmailMessage:
    values: dict[str, Any] = {
        "to": "Hank Scorpio <accounts@globex.example>",
        "subject": "Rappel : facture n° 12 — échéance dépassée",
        "text": "Bonjour Hank,\nla facture INV-0012 (1 250,00 €) est échue.",
        "html": "<p>Bonjour Hank,</p><p>la facture <b>INV-0012</b> (1 250,00 €) est échue.</p>",
        "from_address": "Analytical Engines via DueSpark <reminders@duespark.example>",
        "reply_to": "Ada Lovelace <ada@engines.example>",
        "message_id": make_message_id("reminder:12:+3", "duespark.example"),
        "headers": {"X-DueSpark-Reminder": "12"},
        "date": SENT_AT,
        **overrides,
    }
    return EmailMessage(**values)


# --- the message --------------------------------------------------------------------------


def test_message_is_multipart_alternative_with_utf8_text_and_html() -> None:
    parsed = email.message_from_bytes(message().as_bytes(), policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in parts)
    assert "1 250,00 €" in parts[0].get_content()
    assert "<b>INV-0012</b>" in parts[1].get_content()
    assert parsed["Subject"] == "Rappel : facture n° 12 — échéance dépassée"
    assert parsed["From"].addresses[0].addr_spec == "reminders@duespark.example"
    assert parsed["Reply-To"].addresses[0].addr_spec == "ada@engines.example"
    assert parsed["To"].addresses[0].display_name == "Hank Scorpio"
    assert parsed["Message-ID"] == make_message_id("reminder:12:+3", "duespark.example")
    assert parsed["Date"].datetime == SENT_AT
    assert parsed["X-DueSpark-Reminder"] == "12"


def test_wire_form_is_seven_bit_with_crlf_lines() -> None:
    """Quoted-printable bodies and RFC 2047 headers: no server needs 8BITMIME."""
    data = message().as_bytes()
    assert data.isascii()
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")


INJECTED = "Your invoice\r\nBcc: everyone@victims.example\r\n\r\nfake body"


def test_line_breaks_in_a_subject_never_make_a_header() -> None:
    built = message(subject=INJECTED)
    assert built.subject == "Your invoice Bcc: everyone@victims.example fake body"
    parsed = email.message_from_bytes(built.as_bytes(), policy=email.policy.default)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == built.subject
    assert "fake body" not in parsed.get_body(("plain",)).get_content()


@pytest.mark.parametrize("name", ["Acme\r\nBcc: a@evil.example", "Acme\nX-Spam: no", "Acme\x00"])
def test_line_breaks_in_a_display_name_are_folded_into_the_name(name: str) -> None:
    sender = format_address(name, "reminders@duespark.example")
    parsed = email.message_from_bytes(
        message(from_address=sender).as_bytes(), policy=email.policy.default
    )
    assert parsed["Bcc"] is None and parsed["X-Spam"] is None
    assert parsed["From"].addresses[0].addr_spec == "reminders@duespark.example"
    assert parsed["From"].addresses[0].display_name.startswith("Acme")


@pytest.mark.parametrize(
    "overrides",
    [
        {"to": "accounts@globex.example\r\nBcc: a@evil.example"},
        {"to": "a@globex.example, b@globex.example"},
        {"to": "not an address"},
        {"from_address": "Evil\r\n <x@evil.example>"},
        {"reply_to": "ada@engines.example\nBcc: a@evil.example"},
        {"message_id": "<abc@x>\r\nBcc: a@evil.example"},
        {"message_id": "no-angle-brackets@x"},
        {"headers": {"X-Ok": "fine\r\nBcc: a@evil.example"}},
        {"headers": {"X-Bad: name": "value"}},
        {"headers": {"Bcc": "a@evil.example"}},
        {"headers": {"subject": "a second subject"}},
        {"date": datetime(2026, 11, 28, 9, 30)},
    ],
    ids=lambda overrides: next(iter(overrides)),
)
def test_machine_read_header_values_with_line_breaks_or_bad_forms_are_refused(
    overrides: dict[str, Any],
) -> None:
    with pytest.raises(InvalidEmail):
        message(**overrides)


def test_message_id_is_stable_per_key_and_distinct_between_keys() -> None:
    first = make_message_id("reminder:7:-3", "duespark.example")
    assert first == make_message_id("reminder:7:-3", "duespark.example")
    assert first != make_message_id("reminder.7.-3", "duespark.example")
    assert first.startswith("<reminder.7.-3.") and first.endswith("@duespark.example>")
    assert make_message_id("x", "bad domain\r\n").endswith("@duespark.invalid>")
    message(message_id=first)  # accepted as a Message-ID


# --- file, console and recording senders -------------------------------------------------


def test_file_sender_writes_one_complete_eml_per_message_id(tmp_path: Path) -> None:
    sender = FileSender(tmp_path / "mail")
    first, second = message(), message(message_id=make_message_id("other", "duespark.example"))
    with sender.connect() as connection:
        connection.send(first)
        connection.send(first)  # a retried message replaces its copy
        connection.send(second)
    files = sorted(path.name for path in (tmp_path / "mail").iterdir())
    assert files == sorted([eml_name(first.message_id), eml_name(second.message_id)])
    saved = (tmp_path / "mail" / eml_name(first.message_id)).read_bytes()
    parsed = email.message_from_bytes(saved, policy=email.policy.default)
    assert parsed["Message-ID"] == first.message_id
    assert parsed.get_body(("html",)).get_content().rstrip() == first.html
    assert not list((tmp_path / "mail").glob(".*.tmp"))


def test_eml_names_cannot_escape_the_folder() -> None:
    name = eml_name("<../../etc/passwd@x>")
    assert "/" not in name and name.endswith(".eml")


def test_file_sender_reports_an_unwritable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(TransportUnavailable), FileSender(blocker / "mail").connect():
        pass


def test_console_sender_prints_a_readable_summary() -> None:
    stream = io.StringIO()
    with ConsoleSender(stream).connect() as connection:
        connection.send(message())
    printed = stream.getvalue()
    assert "Subject: Rappel : facture n° 12 — échéance dépassée" in printed
    assert "To: Hank Scorpio <accounts@globex.example>" in printed
    assert "la facture INV-0012" in printed


def test_recording_sender_counts_connections_and_can_refuse_or_be_down() -> None:
    sender = RecordingSender(
        refuse=lambda m: DeliveryFailed("nope", permanent=True) if "refuse" in m.to else None
    )
    with sender.connect() as connection:
        connection.send(message())
        with pytest.raises(DeliveryFailed):
            connection.send(message(to="refuse@globex.example"))
    assert sender.connections == 1 and len(sender.sent) == 1
    sender.unreachable = True
    with pytest.raises(TransportUnavailable), sender.connect():
        pass


# --- choosing a sender -------------------------------------------------------------------


def test_smtp_url_is_parsed_with_defaults_and_secrets_kept_out_of_describe() -> None:
    sender = sender_from_url("smtp://ada%40engines:p%40ss%20w0rd@mail.example:2525?starttls=true")
    assert isinstance(sender, SmtpSender)
    assert (sender.host, sender.port, sender.username, sender.password) == (
        "mail.example",
        2525,
        "ada@engines",
        "p@ss w0rd",
    )
    assert sender.starttls and not sender.implicit_tls
    assert "p@ss" not in sender.describe() and "p@ss" not in repr(sender)
    assert SmtpSender.from_url("smtps://mail.example").port == 465
    assert SmtpSender.from_url("smtp://mail.example?starttls=yes").port == 587
    assert SmtpSender.from_url("smtp://mail.example").port == 25
    assert SmtpSender.from_url("smtp://mail.example?timeout=2.5").timeout == 2.5


@pytest.mark.parametrize(
    "url",
    [
        "smtps://mail.example?starttls=true",
        "smtp://mail.example?starttls=maybe",
        "smtp://mail.example?startls=true",
        "smtp://mail.example?timeout=0",
        "smtp://mail.example?timeout=3600",
        "smtp://mail.example:99999",
        "smtp:///no-host",
        "file://server/share",
        "http://mail.example",
    ],
)
def test_unsafe_or_mistyped_email_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        sender_from_url(url)


def test_file_and_console_urls(tmp_path: Path) -> None:
    file_sender = sender_from_url(f"file://{tmp_path}/outgoing")
    assert isinstance(file_sender, FileSender) and file_sender.folder == tmp_path / "outgoing"
    assert isinstance(sender_from_url("console:"), ConsoleSender)


def test_development_default_is_a_folder_beside_the_database(tmp_path: Path) -> None:
    sqlite = sender_from_settings(make_settings(f"sqlite:///{tmp_path}/app.db"))
    assert isinstance(sqlite, FileSender) and sqlite.folder == tmp_path / "app.db.mail"
    postgres = sender_from_settings(make_settings("postgresql://u@127.0.0.1/db"))
    assert isinstance(postgres, FileSender) and postgres.folder == Path("duespark-mail")
    configured = make_settings(f"sqlite:///{tmp_path}/app.db", DUESPARK_EMAIL_URL="console:")
    assert isinstance(sender_from_settings(configured), ConsoleSender)


# --- SMTP against a real server -----------------------------------------------------------


def test_smtp_delivers_a_batch_over_one_session(smtp: SmtpCapture) -> None:
    batch = [
        message(to=f"client{number}@globex.example", message_id=f"<m{number}@duespark.example>")
        for number in range(3)
    ]
    with smtp_sender(smtp.port).connect() as connection:
        for item in batch:
            connection.send(item)
    assert [item.rcpt_tos for item in smtp.received] == [
        [f"client{number}@globex.example"] for number in range(3)
    ]
    assert smtp.sessions == 1
    assert all(item.mail_from == "reminders@duespark.example" for item in smtp.received)
    first = smtp.received[0].message
    assert first["Subject"] == "Rappel : facture n° 12 — échéance dépassée"
    assert first["Reply-To"].addresses[0].addr_spec == "ada@engines.example"
    assert first["Message-ID"] == "<m0@duespark.example>"
    assert first.get_body(("html",)).get_content().startswith("<p>Bonjour Hank")


def test_smtp_injected_subject_reaches_one_recipient_and_no_bcc(smtp: SmtpCapture) -> None:
    with smtp_sender(smtp.port).connect() as connection:
        connection.send(message(subject=INJECTED))
    (received,) = smtp.received
    assert received.rcpt_tos == ["accounts@globex.example"]
    assert received.message["Bcc"] is None
    assert not any(line.startswith(b"Bcc:") for line in received.content.splitlines())


def test_refused_recipient_is_permanent_and_the_session_carries_on(smtp: SmtpCapture) -> None:
    with smtp_sender(smtp.port).connect() as connection:
        with pytest.raises(DeliveryFailed) as refused:
            connection.send(message(to="refuse-me@globex.example"))
        connection.send(message())
    assert refused.value.permanent and "550" in str(refused.value)
    assert len(smtp.received) == 1 and smtp.sessions == 1


def test_a_dropped_session_fails_that_message_and_the_next_one_reconnects(
    smtp: SmtpCapture,
) -> None:
    with smtp_sender(smtp.port).connect() as connection:
        connection.send(message(message_id="<first@duespark.example>"))
        with pytest.raises(DeliveryFailed) as dropped:
            connection.send(message(subject="[drop] me"))
        connection.send(message(message_id="<after@duespark.example>"))
    assert not dropped.value.permanent
    assert smtp.message_ids() == ["<first@duespark.example>", "<after@duespark.example>"]
    assert connection.sessions_opened == 2


def test_nothing_listening_is_transport_unavailable_at_once() -> None:
    started = time.monotonic()
    with (
        pytest.raises(TransportUnavailable, match="cannot connect"),
        smtp_sender(free_port()).connect(),
    ):
        pass
    assert time.monotonic() - started < 5


def test_a_silent_server_is_bounded_by_the_timeout() -> None:
    """A server that accepts the TCP connection but never greets must not hang a worker."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        sender = SmtpSender(
            host="127.0.0.1", port=silent.getsockname()[1], timeout=0.5, local_hostname="t"
        )
        started = time.monotonic()
        with pytest.raises(TransportUnavailable), sender.connect():
            pass
        assert time.monotonic() - started < 3


def test_starttls_asked_for_but_not_offered_is_refused_not_downgraded(smtp: SmtpCapture) -> None:
    secured = smtp_sender(smtp.port, starttls=True)
    with pytest.raises(TransportUnavailable, match="STARTTLS"), secured.connect():
        pass
    assert smtp.received == []


def _authenticator(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth: Any
) -> AuthResult:
    # handled=False makes aiosmtpd answer a failure with 535 (True means "already answered").
    return AuthResult(success=(auth.login, auth.password) == (b"ada", b"p@ss w0rd"), handled=False)


def test_login_with_the_right_password_delivers_and_a_wrong_one_is_refused() -> None:
    with smtp_capture(authenticator=_authenticator, auth_require_tls=False) as server:
        port = server.port
        with smtp_sender(port, username="ada", password="p@ss w0rd").connect() as connection:
            connection.send(message())
        wrong = smtp_sender(port, username="ada", password="wrong-secret")
        with pytest.raises(TransportUnavailable, match="refused") as refused, wrong.connect():
            pass
    assert len(server.received) == 1
    assert "wrong-secret" not in str(refused.value)
