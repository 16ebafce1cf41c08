"""The wire form of an email, read back by the standard library's strict parser.

``EmailMessage.as_bytes`` assembles MIME from the standard library's encoders instead of
building an ``email.message.EmailMessage`` (see its docstring for why). These properties
hold it to what a receiving mail system sees: whatever names, subjects, bodies and extra
header values users produce, the bytes are 7-bit with CRLF lines of at most 998 bytes,
carry exactly the headers DueSpark set, and decode back to the same text.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import re
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from duespark.email.message import EmailMessage, format_address, make_message_id, single_line

SENT_AT = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
STRICT = email.policy.default.clone(raise_on_defect=True)
EXPECTED_HEADERS = [
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "X-DueSpark-Reminder",
    "MIME-Version",
    "Content-Type",
]


# Text as users type it: any printable character, accents and emoji, quotes, angle
# brackets, "=?" sequences, line breaks of every kind, tabs and trailing spaces.
def pieces(
    characters: st.SearchStrategy[str], specials: list[str], size: int
) -> st.SearchStrategy[str]:
    return st.lists(st.one_of(characters, st.sampled_from(specials)), max_size=size).map("".join)


shown_text = pieces(
    st.characters(codec="utf-8", exclude_categories=("Cs",)),
    ["\r\n", "\n", "\r", "\t", " ", "=?", "?=", '"', "<", ">", ".", "=", ",", "é", "€"],
    120,
)
body_text = pieces(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=90),
    ["\r\n", "\n", "\r", "\t", " ", ".", "From ", "--", "=", "  \n"],
    60,
)


def build(name: str, subject: str, text: str, html: str, extra: str) -> EmailMessage:
    return EmailMessage(
        to=format_address(name, "payer@client.example"),
        subject=subject,
        text=text,
        html=html,
        from_address=format_address(f"{name} via DueSpark", "reminders@duespark.example"),
        reply_to="owner@freelancer.example",
        message_id=make_message_id("reminder:1:+3", "duespark.example"),
        headers={"X-DueSpark-Reminder": single_line(extra) or "1"},
        date=SENT_AT,
    )


def as_typed(body: str) -> str:
    """What the reader gets back: line breaks made uniform, a final one added."""
    body = re.sub(r"\r\n|\r|\n", "\n", body)
    return body if body.endswith("\n") else body + "\n"


def display_name(data: bytes) -> str:
    """The To header's display name as an RFC 2047 reader shows it.

    The standard library's address parser keeps the space between two adjacent encoded
    words, which RFC 2047 (section 6.2) says to drop; a long encoded name is split into
    several words, so those are decoded here with ``decode_header``, which drops it."""
    raw = email.message_from_bytes(data, policy=email.policy.compat32)["To"]
    if "=?" not in raw:
        parsed = email.message_from_bytes(data, policy=STRICT)
        return str(parsed["To"].addresses[0].display_name)
    decoded = str(email.header.make_header(email.header.decode_header(raw)))
    return decoded.rpartition(" <")[0]


def as_read(content: str) -> str:
    """The parser keeps the wire's CRLF line endings in decoded text."""
    return content.replace("\r\n", "\n")


@settings(max_examples=300, deadline=None, derandomize=True)
@given(name=shown_text, subject=shown_text, text=body_text, html=body_text, extra=shown_text)
def test_the_wire_form_reads_back_to_what_was_written(
    name: str, subject: str, text: str, html: str, extra: str
) -> None:
    message = build(name, subject, text, html, extra)
    data = message.as_bytes()

    assert data.isascii()
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998

    parsed = email.message_from_bytes(data, policy=STRICT)
    assert list(parsed.keys()) == EXPECTED_HEADERS
    assert parsed["Subject"] == message.subject
    assert display_name(data) == single_line(name)
    assert parsed["To"].addresses[0].addr_spec == "payer@client.example"
    assert parsed["From"].addresses[0].addr_spec == "reminders@duespark.example"
    assert parsed["X-DueSpark-Reminder"] == message.headers["X-DueSpark-Reminder"]
    assert parsed["Date"].datetime == SENT_AT
    assert parsed.get_content_type() == "multipart/alternative"
    plain, rich = parsed.iter_parts()
    assert (plain.get_content_type(), rich.get_content_type()) == ("text/plain", "text/html")
    assert as_read(plain.get_content()) == as_typed(text)
    assert as_read(rich.get_content()) == as_typed(html)
    assert not parsed.defects and not plain.defects and not rich.defects


def test_an_internationalised_domain_goes_out_in_its_ascii_form() -> None:
    message = build("Jörg", "Rechnung", "Hallo", "<p>Hallo</p>", "1")
    message = EmailMessage(
        to="Jörg <jorg@exämple.de>",
        subject=message.subject,
        text=message.text,
        html=message.html,
        from_address=message.from_address,
        message_id=message.message_id,
        date=SENT_AT,
    )
    parsed = email.message_from_bytes(message.as_bytes(), policy=STRICT)
    assert parsed["To"].addresses[0].addr_spec == "jorg@xn--exmple-cua.de"
    assert parsed["To"].addresses[0].display_name == "Jörg"


def test_text_that_looks_like_an_encoded_word_reads_back_literally() -> None:
    disguised = "=?utf-8?q?PAID_IN_FULL?= invoice 12"
    message = build(disguised, disguised, "x", "x", disguised)
    parsed = email.message_from_bytes(message.as_bytes(), policy=STRICT)
    assert parsed["Subject"] == disguised
    assert parsed["X-DueSpark-Reminder"] == disguised
    assert display_name(message.as_bytes()) == disguised


def test_a_word_too_long_to_fold_is_encoded_within_the_line_limit() -> None:
    unbroken = "INV-" + "9" * 1_500
    message = build(unbroken, unbroken, "x", "x", unbroken)
    data = message.as_bytes()
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    parsed = email.message_from_bytes(data, policy=STRICT)
    assert parsed["Subject"] == unbroken
    assert display_name(data) == unbroken
