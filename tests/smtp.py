"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the tests of
email delivery: a random free port, bounded timeouts, nothing leaves the machine."""

from __future__ import annotations

import asyncio
import email
import email.parser
import email.policy
import itertools
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    session: int

    @property
    def message(self) -> email.message.EmailMessage:
        parsed = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed

    @property
    def message_id(self) -> str:
        """The Message-ID header alone: parsing only the headers keeps polling cheap."""
        headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(
            self.content
        )
        return str(headers["Message-ID"])


@dataclass
class SmtpCapture:
    """An aiosmtpd handler that keeps every message and numbers SMTP sessions, so tests
    can count connections. Recipients starting with ``refuse-`` get a permanent 550; a
    message whose subject contains ``[drop]`` is answered 421, which closes the session.
    ``latency`` holds each message that long before accepting it, as a remote server does:
    without it a loopback delivery is over before a test can act while it is under way."""

    port: int = 0
    latency: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _sessions: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if address.startswith("refuse-"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        if b"[drop]" in content:
            return "421 4.3.2 shutting down"
        if self.latency:
            await asyncio.sleep(self.latency)
        with self.lock:
            number = getattr(session, "capture_number", None)
            if number is None:
                number = next(self._sessions)
                session.capture_number = number
            self.received.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), content, number)
            )
        return "250 2.0.0 accepted"

    def snapshot(self) -> list[Received]:
        """A copy of what has arrived so far. Tests parse the copy outside the lock: the
        SMTP handler takes the same lock on the server's event loop, and holding it while
        parsing thousands of messages would stall every client past its timeout."""
        with self.lock:
            return list(self.received)

    @property
    def sessions(self) -> int:
        return len({item.session for item in self.snapshot()})

    def message_ids(self) -> list[str]:
        return [item.message_id for item in self.snapshot()]


def free_port() -> int:
    """A loopback port nothing listens on (bound, read and released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_capture(
    port: int | None = None, *, latency: float = 0.0, **smtp_options: Any
) -> Iterator[SmtpCapture]:
    """Run an SMTP server on 127.0.0.1 for the duration of the block."""
    handler = SmtpCapture(latency=latency)
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port or free_port(),
        server_hostname="localhost",
        ready_timeout=10,
        **smtp_options,
    )
    controller.start()
    handler.port = controller.port
    try:
        yield handler
    finally:
        controller.stop()
