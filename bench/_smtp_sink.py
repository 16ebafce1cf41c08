"""An SMTP server on loopback that counts what it accepts, in its own process.

Run as ``python bench/_smtp_sink.py``: it prints ``listening on PORT``, accepts every
message (aiosmtpd, as the tests' server does), and on SIGTERM prints ``received N`` and
exits. Its own process, so that the server's work does not share the benchmarked
client's interpreter (and its lock) with the code being measured.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
from typing import Any

from aiosmtpd.controller import Controller


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.recipients = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        self.recipients += len(envelope.rcpt_tos)
        return "250 2.0.0 accepted"


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    handler = Counter()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        server_hostname="localhost",
        ready_timeout=10,
    )
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    _say(f"listening on {controller.port}")
    stop.wait()
    controller.stop()
    _say(f"received {handler.count}")


if __name__ == "__main__":
    main()
