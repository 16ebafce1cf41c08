"""The two servers the API benchmarks compare, started as they are deployed, and a login.

* DueSpark: ``duespark serve --workers N --no-worker`` (reminders are a separate
  ``duespark worker`` process in a PostgreSQL deployment), on a free loopback port.
* The baseline: ``uvicorn baseline_app:app --workers N``, the same ASGI server with the
  same number of processes, over the bare application in ``bench/baseline_app.py``.
"""

from __future__ import annotations

import json
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from _common import BENCH_DIR, DUESPARK, PASSWORD, Service, children_of, environ, service


@dataclass(frozen=True)
class Running:
    url: str
    service: Service

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (the children of a ``--workers`` parent)."""
        return children_of(self.service.pid) or [self.service.pid]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def duespark_server(database_url: str, workers: int) -> Iterator[Running]:
    command = [DUESPARK, "serve", "--port", "0", "--no-worker", "--workers", str(workers)]
    env = environ(DATABASE_URL=database_url)
    with service(command, env=env, ready=r"DueSpark listening on (http://127\.0\.0\.1:\d+)") as up:
        assert up.match is not None
        yield Running(up.match.group(1), up)


@contextmanager
def baseline_server(database_url: str, workers: int) -> Iterator[Running]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "baseline_app:app",
        "--app-dir",
        str(BENCH_DIR),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "info",
    ]
    env = environ(DATABASE_URL=database_url)
    with service(command, env=env, ready=r"Uvicorn running on") as up:
        url = f"http://127.0.0.1:{port}"
        _wait_for_children(up, workers)
        yield Running(url, up)


def _wait_for_children(up: Service, workers: int, timeout: float = 60) -> None:
    """uvicorn's parent announces itself before its children serve: wait for them."""
    deadline = time.monotonic() + timeout
    while up.text().count("Application startup complete") < workers:
        if time.monotonic() > deadline or up.process.poll() is not None:
            raise RuntimeError(f"baseline server not ready:\n{up.text()}")
        time.sleep(0.1)


def login(url: str, email: str, password: str = PASSWORD) -> str:
    """An access token for ``email`` from ``POST /auth/login`` (the form post)."""
    body = urllib.parse.urlencode({"username": email, "password": password}).encode()
    request = urllib.request.Request(f"{url}/auth/login", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return str(json.load(answer)["access_token"])


def get_json(url: str, token: str) -> tuple[int, object]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
