"""One outgoing email, checked when it is made, and its MIME form.

Header injection is the risk here: a subject or a name containing CR/LF could otherwise
start a new header (``Bcc: everyone@...``). The rules, so that no header line can ever be
forged from data:

* text that is *shown* (the subject, display names) is sanitised: control characters and
  line breaks become single spaces, so a client named "Acme\\r\\nBcc: x" still gets its mail;
* text that is *machine-read* (addresses, the Message-ID, extra header names and values) is
  refused with :class:`~duespark.email.errors.InvalidEmail`: there is no safe guess for an
  address with a line break in it;
* the stdlib ``email`` package builds the headers (RFC 2047 encoding for UTF-8, folding),
  and its policy raises on CR/LF too, as a second line of defence.

Bodies are sent quoted-printable, so the message is 7-bit clean and needs no 8BITMIME.
"""

from __future__ import annotations

import email.message
import email.policy
import email.utils
import hashlib
import re
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


def parse_address(value: str, *, what: str) -> Address:
    """One mailbox (``a@b.example`` or ``Name <a@b.example>``), or :class:`InvalidEmail`.

    Line breaks are refused outright rather than cleaned: an address is machine-read, and a
    "repaired" one could deliver somewhere nobody intended.
    """
    if _CONTROL.search(value):
        raise InvalidEmail(f"{what} contains a line break or control character")
    pairs = email.utils.getaddresses([value])
    if len(pairs) != 1 or not _ADDR_SPEC.match(pairs[0][1]):
        raise InvalidEmail(f"{what} is not a single email address: {value!r}")
    name, addr_spec = pairs[0]
    try:
        return Address(display_name=single_line(name), addr_spec=addr_spec)
    except (ValueError, IndexError) as exc:
        raise InvalidEmail(f"{what} is not a valid email address: {value!r}") from exc


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

    def __post_init__(self) -> None:
        parse_address(self.to, what="recipient")
        parse_address(self.from_address, what="sender address")
        if self.reply_to is not None:
            parse_address(self.reply_to, what="reply-to address")
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
        return parse_address(self.to, what="recipient").addr_spec

    @property
    def sender(self) -> str:
        """The bare envelope sender (bounces go here)."""
        return parse_address(self.from_address, what="sender address").addr_spec

    def to_mime(self) -> email.message.EmailMessage:
        """The message as multipart/alternative (plain text first, HTML preferred)."""
        mime = email.message.EmailMessage(policy=email.policy.SMTP)
        mime["From"] = parse_address(self.from_address, what="sender address")
        mime["To"] = parse_address(self.to, what="recipient")
        if self.reply_to is not None:
            mime["Reply-To"] = parse_address(self.reply_to, what="reply-to address")
        mime["Subject"] = self.subject
        mime["Date"] = email.utils.format_datetime(self.date or utc_now())
        mime["Message-ID"] = self.message_id
        for name, value in self.headers.items():
            mime[name] = value
        mime.set_content(self.text, subtype="plain", charset="utf-8", cte="quoted-printable")
        mime.add_alternative(self.html, subtype="html", charset="utf-8", cte="quoted-printable")
        return mime

    def as_bytes(self) -> bytes:
        """The message as sent on the wire (CRLF line endings)."""
        return self.to_mime().as_bytes()


def _check_extra_header(name: str, value: str) -> None:
    if not _HEADER_NAME.match(name):
        raise InvalidEmail(f"not a valid header name: {name!r}")
    if name.lower() in RESERVED_HEADERS:
        raise InvalidEmail(f"header {name} is set by DueSpark and cannot be overridden")
    if not isinstance(value, str) or _CONTROL.search(value):
        raise InvalidEmail(f"header {name} has a line break, a control character or no text")
