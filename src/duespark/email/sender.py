"""The ``EmailSender`` protocol, and choosing an implementation from the settings.

A sender is used one batch at a time, over one connection::

    with sender.connect() as connection:
        for message in batch:
            connection.send(message)

so SMTP logs in once per batch rather than once per email. ``send`` either returns (the
transport accepted the message) or raises a :mod:`duespark.email.errors` error that says
whether trying again could help.

Implementations: :class:`~duespark.email.smtp.SmtpSender` (production),
:class:`~duespark.email.local.FileSender` (development default: one ``.eml`` per message),
:class:`~duespark.email.local.ConsoleSender`, and
:class:`~duespark.email.recording.RecordingSender` for unit tests.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from duespark.config import ConfigError, Settings
from duespark.email.local import ConsoleSender, FileSender
from duespark.email.message import EmailMessage
from duespark.email.smtp import SmtpSender

DEVELOPMENT_FROM = "DueSpark <duespark@localhost>"
POSTGRES_DEVELOPMENT_FOLDER = Path("duespark-mail")


class EmailConnection(Protocol):
    """An open channel to the transport; valid inside its ``connect()`` block only."""

    def send(self, message: EmailMessage) -> None:
        """Hand one message to the transport, or raise an ``EmailError``."""
        ...


class EmailSender(Protocol):
    """Something that delivers email (see the module docstring for the usage pattern)."""

    def connect(self) -> AbstractContextManager[EmailConnection]:
        """Open one connection for a batch; raises ``TransportUnavailable`` when it cannot."""
        ...

    def describe(self) -> str:
        """Where mail goes, without secrets, for logs and ``duespark status``."""
        ...


def sender_from_url(url: str) -> EmailSender:
    """The sender for a ``DUESPARK_EMAIL_URL`` value (``smtp://``, ``smtps://``,
    ``file:///dir`` or ``console:``); :class:`ConfigError` for anything else."""
    parts = urlsplit(url)
    if parts.scheme in {"smtp", "smtps"}:
        return SmtpSender.from_url(url)
    if parts.scheme == "file":
        path = unquote(parts.path)
        if parts.netloc not in {"", "localhost"} or not path:
            raise ConfigError(
                f"a file email URL needs an absolute folder, like file:///var/mail: {url}"
            )
        return FileSender(Path(path))
    if parts.scheme == "console":
        return ConsoleSender()
    raise ConfigError("DUESPARK_EMAIL_URL must start with smtp://, smtps://, file:// or console:")


def sender_from_settings(settings: Settings) -> EmailSender:
    """The configured sender; without ``DUESPARK_EMAIL_URL``, a development folder
    (``<db-file>.mail/`` beside the SQLite file, ``./duespark-mail/`` otherwise), so nothing
    is ever sent to a real inbox by accident."""
    if settings.email_url is not None:
        return sender_from_url(settings.email_url)
    return FileSender(development_mail_folder(settings))


def development_mail_folder(settings: Settings) -> Path:
    database = settings.sqlite_path
    if database is not None:
        return database.with_name(database.name + ".mail")
    return POSTGRES_DEVELOPMENT_FOLDER


def from_address(settings: Settings) -> str:
    """The From address: ``DUESPARK_EMAIL_FROM``, or a harmless local one in development."""
    return settings.email_from or DEVELOPMENT_FROM
