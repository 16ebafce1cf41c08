"""Real ``duespark serve`` processes on loopback, started and stopped within a deadline."""

from __future__ import annotations

import queue
import re
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from tests.cli.conftest import DUESPARK
from tests.factories import PASSWORD

LISTENING = re.compile(r"DueSpark listening on (http://127\.0\.0\.1:\d+)")
START_TIMEOUT_S = 30
HTTP_TIMEOUT_S = 10


class Server:
    def __init__(self, process: subprocess.Popen[str], url: str, output: list[str]) -> None:
        self.process = process
        self.url = url
        self.output = output

    def client(self) -> httpx2.Client:
        return httpx2.Client(base_url=self.url, timeout=HTTP_TIMEOUT_S)


@contextmanager
def running_server(environ: dict[str, str], cwd: Path) -> Iterator[Server]:
    """``duespark serve --port 0 --no-worker``; fails the test if it is not listening
    within START_TIMEOUT_S, and always stops it (SIGTERM, then SIGKILL)."""
    process = subprocess.Popen(
        [DUESPARK, "serve", "--port", "0", "--no-worker"],
        env=environ,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        url = None
        while url is None:
            try:
                line = lines.get(timeout=START_TIMEOUT_S)
            except queue.Empty:
                pytest.fail("server not listening in time:\n" + "".join(output))
            if line is None:
                pytest.fail("server exited before listening:\n" + "".join(output))
            output.append(line)
            match = LISTENING.search(line)
            url = match.group(1) if match else None
        yield Server(process, url, output)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def closed_port_url() -> str:
    """A loopback URL nobody listens on: a port the system just handed out and took back."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def register_and_login(server: Server, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Create an account on the running server and log in with the form post."""
    with server.client() as http:
        created = http.post(
            "/auth/register", json={"email": email, "password": password, "name": "Smoke"}
        )
        assert created.status_code == 201, created.text
        return login(server, email, password)


def login(server: Server, email: str, password: str = PASSWORD) -> dict[str, str]:
    with server.client() as http:
        answer = http.post("/auth/login", data={"username": email, "password": password})
        assert answer.status_code == 200, answer.text
        return answer.json()
