"""A sender that keeps what it is given, for unit tests of code that sends email.

It behaves like a transport where it matters to callers: it counts connections (so a test
can check that a batch uses one), can be made unreachable (``connect`` raises
``TransportUnavailable``), and can refuse chosen messages with a given error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from duespark.email.errors import EmailError, TransportUnavailable
from duespark.email.message import EmailMessage


@dataclass
class RecordingSender:
    """Keeps accepted messages in :attr:`sent`, in order."""

    sent: list[EmailMessage] = field(default_factory=list)
    connections: int = 0
    unreachable: bool = False
    refuse: Callable[[EmailMessage], EmailError | None] = lambda _message: None
    on_send: Callable[[EmailMessage], None] = lambda _message: None

    def describe(self) -> str:
        return "recording (tests)"

    @contextmanager
    def connect(self) -> Iterator[RecordingConnection]:
        if self.unreachable:
            raise TransportUnavailable("recording sender is set to be unreachable")
        self.connections += 1
        yield RecordingConnection(self)


@dataclass
class RecordingConnection:
    owner: RecordingSender

    def send(self, message: EmailMessage) -> None:
        self.owner.on_send(message)
        error = self.owner.refuse(message)
        if error is not None:
            raise error
        self.owner.sent.append(message)
