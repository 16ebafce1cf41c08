"""One outgoing email, checked when it is made, and its MIME form.

Header injection is the risk here: a subject or a name containing CR/LF could otherwise
start a new header (``Bcc: everyone@...``). The rules, so that no header line can ever be
forged from data:

* text that is *shown* (the subject, display names) is sanitised: control characters and
  line breaks become single spaces, so a client named "Acme\\r\\nBcc: x" still gets its mail;
* text that is *machine-read* (addresses, the Message-ID, extra header names and values) is
  refused with :class:`~duespark.email.errors.InvalidEmail`: there is no safe guess for an
  address with a line break in it;
* the stdlib ``email`` package's encoders write the headers (RFC 2047 encoding for UTF-8,
  folding), after those checks.

Bodies are sent quoted-printable, so the message is 7-bit clean and needs no 8BITMIME.
"""

from __future__ import annotations

import binascii
import email.header
import email.utils
import functools
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from types import MappingProxyType

from duespark.clock import utc_now
from duespark.email.errors import InvalidEmail

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_ADDR_SPEC = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+$")
_MESSAGE_ID = re.compile(r"^<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+>$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,76}$")
_DOMAIN = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")
# Headers DueSpark sets itself; an "extra" header may not replace or duplicate them.
RESERVED_HEADERS = frozenset(
    {
        "bcc",
        "cc",
        "content-transfer-encoding",
        "content-type",
        "date",
        "from",
        "message-id",
        "mime-version",
        "received",
        "reply-to",
        "return-path",
        "sender",
        "subject",
        "to",
    }
)
FALLBACK_DOMAIN = "duespark.invalid"


def single_line(value: str) -> str:
    """Shown text made safe for a header: no control characters, whitespace collapsed."""
    return " ".join(_CONTROL.sub(" ", value).split())


@functools.lru_cache(maxsize=4096)
def parse_address(value: str, *, what: str) -> Address:
    """One mailbox (``a@b.example`` or ``Name <a@b.example>``), or :class:`InvalidEmail`.

    Line breaks are refused outright rather than cleaned: an address is machine-read, and a
    "repaired" one could deliver somewhere nobody intended. Cached: the relay sees the same
    few senders and clients over and over, and the parse costs more than the rest of an
    email's headers together.
    """
    if _CONTROL.search(value):
        raise InvalidEmail(f"{what} contains a line break or control character")
    pairs = email.utils.getaddresses([value])
    if len(pairs) != 1 or not _ADDR_SPEC.match(pairs[0][1]):
        raise InvalidEmail(f"{what} is not a single email address: {value!r}")
    name, addr_spec = pairs[0]
    if not addr_spec.rpartition("@")[0].isascii():
        raise InvalidEmail(
            f"{what} has letters outside plain ASCII before the @, which mail servers "
            f"without SMTPUTF8 cannot deliver: {value!r}"
        )
    try:
        return Address(display_name=single_line(name), addr_spec=addr_spec)
    except (ValueError, IndexError) as exc:
        raise InvalidEmail(f"{what} is not a valid email address: {value!r}") from exc


def sendable_address(value: str, *, what: str = "address") -> str:
    """The bare address as the SMTP envelope will carry it, or :class:`InvalidEmail`.

    These are the rules the sender applies to every address it puts on the wire (one
    mailbox, no line breaks, a plain-ASCII mailbox name, a domain with an ASCII form), so
    the API, the pages and the CSV import refuse exactly what could never be sent, and
    an address they accepted can never turn a reminder dead later.
    """
    return _mailbox(value, what=what).addr_spec


@functools.lru_cache(maxsize=4096)
def format_address(name: str, address: str) -> str:
    """``Name <address>`` with the name sanitised and quoted as needed, for From/Reply-To
    lines made from user data (a business name)."""
    parsed = parse_address(address, what="address")
    return str(Address(display_name=single_line(name), addr_spec=parsed.addr_spec))


def domain_of(address: str) -> str:
    """The domain of ``address``, or a reserved placeholder when it is not plain ASCII."""
    domain = parse_address(address, what="address").domain
    return domain if _DOMAIN.match(domain) else FALLBACK_DOMAIN


def make_message_id(key: str, domain: str) -> str:
    """A Message-ID derived from a stable key, so every retry of one outbox message carries
    the same id and a receiving system can recognise the duplicate.

    The readable part is the key with unsafe characters replaced; a hash of the exact key
    keeps two keys that differ only in those characters apart.
    """
    readable = re.sub(r"[^A-Za-z0-9.-]+", ".", key).strip(".")[:64] or "message"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    safe_domain = domain if _DOMAIN.match(domain) else FALLBACK_DOMAIN
    return f"<{readable}.{digest}@{safe_domain}>"


@dataclass(frozen=True)
class EmailMessage:
    """An email ready to send: checked on construction, so a sender never sees a bad one.

    ``subject`` is sanitised in place (see the module docstring); every other problem
    raises :class:`InvalidEmail`. ``date`` is the Date header; when None, the time of
    building is used.
    """

    to: str
    subject: str
    text: str
    html: str
    from_address: str
    message_id: str
    reply_to: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    date: datetime | None = None
    # The addresses as checked and encoded for the wire, worked out once.
    _to: _Mailbox = field(init=False, repr=False, compare=False)
    _from: _Mailbox = field(init=False, repr=False, compare=False)
    _reply_to: _Mailbox | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_to", _mailbox(self.to, what="recipient"))
        object.__setattr__(self, "_from", _mailbox(self.from_address, what="sender address"))
        reply_to = self.reply_to
        reply = None if reply_to is None else _mailbox(reply_to, what="reply-to address")
        object.__setattr__(self, "_reply_to", reply)
        if not _MESSAGE_ID.match(self.message_id):
            raise InvalidEmail(f"Message-ID is not of the form <left@right>: {self.message_id!r}")
        for name, value in self.headers.items():
            _check_extra_header(name, value)
        if self.date is not None and self.date.tzinfo is None:
            raise InvalidEmail("the Date header needs a timezone-aware datetime")
        object.__setattr__(self, "subject", single_line(self.subject))
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))

    @property
    def recipient(self) -> str:
        """The bare address the SMTP envelope is sent to."""
        return self._to.addr_spec

    @property
    def sender(self) -> str:
        """The bare envelope sender (bounces go here)."""
        return self._from.addr_spec

    def as_bytes(self) -> bytes:
        """The message as sent on the wire: multipart/alternative (plain text first, HTML
        preferred), 7-bit, CRLF line endings.

        Assembled from the standard library's encoders (RFC 2047 headers, quoted-printable
        bodies) rather than through ``email.message.EmailMessage``: the relay builds one
        per email, and the header registry's parsing of every header it is given cost more
        than a millisecond each, more than the SMTP dialogue itself. The checks in
        ``__post_init__`` have already refused anything that could break a header line;
        ``tests/unit/test_email_wire.py`` parses the result back with the standard
        library's strict policy for generated names, subjects and bodies.
        """
        boundary = f"==duespark-{secrets.token_hex(12)}"
        lines = [_header("From", self._from.header), _header("To", self._to.header)]
        if self._reply_to is not None:
            lines.append(_header("Reply-To", self._reply_to.header))
        lines += [
            _text_header("Subject", self.subject),
            _header("Date", email.utils.format_datetime(self.date or utc_now())),
            _header("Message-ID", self.message_id),
            *(_text_header(name, value) for name, value in self.headers.items()),
            "MIME-Version: 1.0",
            f'Content-Type: multipart/alternative; boundary="{boundary}"',
            "",
        ]
        head = CRLF.join(lines).encode("ascii")
        parts = b"".join(
            _part(boundary, subtype, body)
            for subtype, body in (("plain", self.text), ("html", self.html))
        )
        return head + CRLF_BYTES + parts + f"--{boundary}--".encode("ascii") + CRLF_BYTES


CRLF = "\r\n"
CRLF_BYTES = b"\r\n"
FOLD_AT = 78
# A word this long cannot be folded within the 998-byte line limit; it goes encoded.
LONGEST_WORD = 900
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class _Mailbox:
    header: str  # as it goes into From, To or Reply-To
    addr_spec: str  # plain ASCII, for the SMTP envelope


@functools.lru_cache(maxsize=4096)
def _mailbox(value: str, *, what: str) -> _Mailbox:
    """A checked address in its wire forms: the display name quoted, or RFC 2047-encoded
    when it is not plain ASCII (or holds ``=?``, which a reader would decode), and an
    internationalised domain in its ASCII (IDNA) form."""
    address = parse_address(value, what=what)
    local, domain, name = address.username, address.domain, address.display_name
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise InvalidEmail(f"{what} has an unusable domain: {value!r}") from exc
    addr_spec = f"{local}@{domain}"
    if not name:
        return _Mailbox(addr_spec, addr_spec)
    if _plain(name):
        return _Mailbox(email.utils.formataddr((name, addr_spec)), addr_spec)
    # Short encoded words separated by spaces, so the header can be folded between them.
    return _Mailbox(f"{_encoded_words(name)} <{addr_spec}>", addr_spec)


def _encoded_words(text: str) -> str:
    """RFC 2047 encoded words of at most 75 characters, separated by spaces."""
    return email.header.Header(text, "utf-8").encode(linesep="")


def _header(name: str, value: str) -> str:
    """``Name: value``, folded at spaces so that lines stay near 78 characters: a fold
    goes only where a space was (unfolding gives the value back) and never before the
    first word or an empty one (no whitespace-only line)."""
    line, lines = f"{name}:", []
    for index, word in enumerate(value.split(" ")):
        if index and word and len(line) + 1 + len(word) > FOLD_AT:
            lines.append(line)
            line = ""
        line += f" {word}"
    return CRLF.join([*lines, line])


def _text_header(name: str, value: str) -> str:
    """Shown text (a subject, an extra header's value): encoded words when it is not
    plain ASCII, holds ``=?`` (a reader would decode it) or a word too long to fold."""
    if _plain(value):
        return _header(name, value)
    return _header(name, _encoded_words(value))


def _plain(text: str) -> bool:
    """Text that can go into a header as it is."""
    return (
        text.isascii()
        and "=?" not in text
        and all(len(word) <= LONGEST_WORD for word in text.split(" "))
    )


def _part(boundary: str, subtype: str, body: str) -> bytes:
    """One quoted-printable text part, preceded by its boundary line."""
    normalised = _LINE_BREAK.sub("\n", body)
    if not normalised.endswith("\n"):
        normalised += "\n"
    encoded = binascii.b2a_qp(normalised.encode("utf-8"), istext=True).replace(b"\n", CRLF_BYTES)
    head = (
        f"--{boundary}{CRLF}"
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}"
    )
    # The CRLF after the body belongs to the next boundary line (RFC 2046), not the text.
    return head.encode("ascii") + encoded + CRLF_BYTES


def _check_extra_header(name: str, value: str) -> None:
    if not _HEADER_NAME.match(name):
        raise InvalidEmail(f"not a valid header name: {name!r}")
    if name.lower() in RESERVED_HEADERS:
        raise InvalidEmail(f"header {name} is set by DueSpark and cannot be overridden")
    if not isinstance(value, str) or _CONTROL.search(value):
        raise InvalidEmail(f"header {name} has a line break, a control character or no text")
