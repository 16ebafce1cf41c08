"""Delivery over SMTP: ``smtp://user:pass@host:port`` (``?starttls=true`` to upgrade) or
``smtps://`` (TLS from the first byte).

One connection serves a whole batch; if the server drops it mid-batch (many servers cap
messages per session), the next message reconnects once. Every socket operation is bounded
by ``timeout`` so a silent server cannot hang a worker. STARTTLS, once asked for, is
required: a server that does not offer it is an error, never a quiet fall-back to plain
text. Passwords never appear in errors or in :meth:`SmtpSender.describe`.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from duespark.config import ConfigError
from duespark.email.errors import DeliveryFailed, TransportUnavailable
from duespark.email.message import EmailMessage

DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 120.0
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class SmtpSender:
    """Settings of one SMTP server; :meth:`connect` opens a connection for a batch."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    implicit_tls: bool = False
    starttls: bool = False
    timeout: float = DEFAULT_TIMEOUT_S
    local_hostname: str = field(default_factory=socket.gethostname)
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_url(cls, url: str) -> SmtpSender:
        """Parse ``DUESPARK_EMAIL_URL``; unknown query options are refused (a typo in
        ``starttls`` must not silently send in plain text)."""
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ConfigError("an SMTP email URL looks like smtp://user:pass@host:port")
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        unknown = set(options) - {"starttls", "timeout"}
        if unknown:
            raise ConfigError(f"unknown SMTP URL option(s): {', '.join(sorted(unknown))}")
        starttls = _flag(options.get("starttls", "false"))
        implicit_tls = parts.scheme == "smtps"
        if starttls and implicit_tls:
            raise ConfigError("smtps:// is already encrypted; drop ?starttls=true")
        timeout = _timeout(options.get("timeout"))
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"invalid SMTP port: {exc}") from None
        if port is None:
            port = 465 if implicit_tls else 587 if starttls else 25
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit_tls,
            starttls=starttls,
            timeout=timeout,
        )

    def describe(self) -> str:
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{self.username}@" if self.username else ""
        security = " with STARTTLS" if self.starttls else ""
        return f"{scheme}://{user}{self.host}:{self.port}{security}"

    @contextmanager
    def connect(self) -> Iterator[SmtpConnection]:
        connection = SmtpConnection(self)
        connection.open()
        try:
            yield connection
        finally:
            connection.close()

    def open_client(self) -> smtplib.SMTP:
        """A connected, secured and logged-in client, or :class:`TransportUnavailable`."""
        # Only when TLS is used: loading the system's CA certificates costs tens of
        # milliseconds, and the relay opens a connection per batch.
        context = (
            self.ssl_context or ssl.create_default_context()
            if self.implicit_tls or self.starttls
            else None
        )
        client: smtplib.SMTP | None = None
        try:
            if self.implicit_tls:
                client = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    local_hostname=self.local_hostname,
                    timeout=self.timeout,
                    context=context,
                )
            else:
                client = smtplib.SMTP(
                    self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
                )
            if self.starttls:
                client.ehlo()
                client.starttls(context=context)
                client.ehlo()
            if self.username:
                client.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            _close_quietly(client)
            raise TransportUnavailable(
                f"{self.describe()} refused the login ({exc.smtp_code})"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            _close_quietly(client)
            raise TransportUnavailable(f"cannot connect to {self.describe()}: {exc}") from None
        return client


class SmtpConnection:
    """One SMTP session for a batch; reconnects once after the server drops it."""

    def __init__(self, sender: SmtpSender) -> None:
        self._sender = sender
        self._client: smtplib.SMTP | None = None
        self.sessions_opened = 0

    def open(self) -> None:
        self._client = self._sender.open_client()
        self.sessions_opened += 1

    def send(self, message: EmailMessage) -> None:
        data = message.as_bytes()
        if self._client is None or self._client.sock is None:
            # First use, or the server closed the session (a 421, a per-session cap).
            self.open()
        assert self._client is not None
        try:
            self._client.sendmail(message.sender, [message.recipient], data)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryFailed(
                f"recipient refused: {_reply(exc.recipients)}",
                permanent=bool(codes) and all(code >= 500 for code in codes),
            ) from None
        except smtplib.SMTPDataError as exc:
            raise DeliveryFailed(
                f"message refused: {exc.smtp_code} {_text(exc.smtp_error)}",
                permanent=exc.smtp_code >= 500,
            ) from None
        except smtplib.SMTPSenderRefused as exc:
            # Usually configuration (the From address is not allowed): worth retrying after
            # an operator fixes it, so never permanent.
            raise DeliveryFailed(
                f"sender {exc.sender} refused: {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise DeliveryFailed(f"connection to {self._sender.describe()} lost: {exc}") from None

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()

    def _drop(self) -> None:
        client, self._client = self._client, None
        _close_quietly(client)


def _close_quietly(client: smtplib.SMTP | None) -> None:
    if client is not None:
        with suppress(OSError):
            client.close()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _reply(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address}: {code} {_text(text)}" for address, (code, text) in recipients.items()
    )


def _flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"starttls must be true or false, not {value!r}")


def _timeout(value: str | None) -> float:
    if value is None:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"timeout must be a number of seconds, not {value!r}") from None
    if not 0 < seconds <= MAX_TIMEOUT_S:
        raise ConfigError(f"timeout must be between 0 and {MAX_TIMEOUT_S:g} seconds")
    return seconds
