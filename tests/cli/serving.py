"""Real ``duespark serve`` processes on loopback, started and stopped within a deadline."""

from __future__ import annotations

import queue
import re
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator, Sequence
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
    def __init__(
        self,
        process: subprocess.Popen[str],
        url: str,
        output: list[str],
        lines: queue.Queue[str | None] | None = None,
    ) -> None:
        self.process = process
        self.url = url
        self.output = output
        self._lines = lines

    def client(self) -> httpx2.Client:
        return httpx2.Client(base_url=self.url, timeout=HTTP_TIMEOUT_S)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def wait_for_exit(self, timeout: float) -> str:
        """Wait until the process ends; return everything it printed after listening.

        Fails the test when it is still running after ``timeout`` seconds."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"server still running {timeout} s later:\n" + "".join(self.output))
        while self._lines is not None:
            try:
                line = self._lines.get(timeout=5)
            except queue.Empty:
                break
            if line is None:
                break
            self.output.append(line)
        return "".join(self.output)


@contextmanager
def running_server(
    environ: dict[str, str],
    cwd: Path,
    *,
    args: Sequence[str] = (),
    worker: bool = False,
) -> Iterator[Server]:
    """``duespark serve --port 0 --no-worker``; fails the test if it is not listening
    within START_TIMEOUT_S, and always stops it (SIGTERM, then SIGKILL).

    ``args`` go after ``serve`` (``--workers 2``, ``--drain-seconds 3``); ``worker`` keeps
    the embedded worker. The drain period defaults to 0 unless ``environ`` or ``args`` set
    it, so stopping a test server does not wait for a load balancer that is not there."""
    process = subprocess.Popen(
        [DUESPARK, "serve", "--port", "0", *([] if worker else ["--no-worker"]), *args],
        env={"DUESPARK_DRAIN_SECONDS": "0", **environ},
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
        yield Server(process, url, output, lines)
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


class RawConnection:
    """One HTTP/1.1 connection held open by hand, for what a pooled client hides: which
    connection a request uses, a body sent in two halves, the server closing the socket."""

    def __init__(self, server: Server) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=HTTP_TIMEOUT_S)
        self._reader = self.sock.makefile("rb")

    @property
    def local_port(self) -> int:
        return int(self.sock.getsockname()[1])

    def send_head(self, method: str, path: str, headers: dict[str, str]) -> None:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *_header_lines(headers)]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        self.send_head(method, path, {**(headers or {}), "Content-Length": str(len(body))})
        self.sock.sendall(body)
        return self.read_response()

    def read_response(self) -> tuple[int, dict[str, str], bytes]:
        """(status, lower-cased headers, body); raises ConnectionError if the server closed."""
        status_line = self._reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := self._reader.readline().decode().rstrip("\r\n")) != "":
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = self._reader.read(int(headers.get("content-length", "0")))
        return status, headers, body

    def closed_by_server(self, timeout: float) -> bool:
        """True when the server closes this (idle) connection within ``timeout`` seconds."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        finally:
            self.sock.settimeout(HTTP_TIMEOUT_S)

    def close(self) -> None:
        self._reader.close()
        self.sock.close()


def _header_lines(headers: dict[str, str]) -> list[str]:
    return [f"{name}: {value}" for name, value in headers.items()]
