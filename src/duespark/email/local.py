"""Development senders: a folder of ``.eml`` files, and the console.

The file sender is the default outside production: every message a developer triggers can
be opened in a mail client, and nothing reaches a real inbox. Each file is named after the
Message-ID and written atomically (a temporary file, then a rename), so a reader never sees
half a message and a retried message replaces its earlier copy instead of adding a second.
The folder is created 0700 and each file 0600: the messages hold clients' names, addresses
and amounts owed.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from duespark.email.errors import TransportUnavailable
from duespark.email.message import EmailMessage

_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._@+-]")


def eml_name(message_id: str) -> str:
    """A file name for a Message-ID: its characters that are safe in a path, plus .eml."""
    return _UNSAFE_FILENAME.sub("_", message_id.strip("<>")) + ".eml"


@dataclass(frozen=True)
class FileSender:
    """Writes each message to ``folder/<message-id>.eml``."""

    folder: Path

    def describe(self) -> str:
        return f"file://{self.folder.resolve()}"

    @contextmanager
    def connect(self) -> Iterator[FileConnection]:
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise TransportUnavailable(f"cannot create mail folder {self.folder}: {exc}") from None
        yield FileConnection(self.folder)


@dataclass
class FileConnection:
    folder: Path

    def send(self, message: EmailMessage) -> None:
        data = message.as_bytes()
        target = self.folder / eml_name(message.message_id)
        descriptor, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)
            raise TransportUnavailable(f"cannot write {target}: {exc}") from None


@dataclass(frozen=True)
class ConsoleSender:
    """Prints a readable summary and the text part of each message (``console:``)."""

    stream: TextIO = field(default_factory=lambda: sys.stdout)

    def describe(self) -> str:
        return "console:"

    @contextmanager
    def connect(self) -> Iterator[ConsoleConnection]:
        yield ConsoleConnection(self.stream)


@dataclass
class ConsoleConnection:
    stream: TextIO

    def send(self, message: EmailMessage) -> None:
        lines = [
            "-" * 72,
            f"From: {message.from_address}",
            f"To: {message.to}",
            *([f"Reply-To: {message.reply_to}"] if message.reply_to else []),
            f"Subject: {message.subject}",
            f"Message-ID: {message.message_id}",
            "",
            message.text,
            "-" * 72,
        ]
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
