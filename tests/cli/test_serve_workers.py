"""``duespark serve --workers 2``: two processes on one port, sharing state through the
database only, and draining together on SIGTERM to the parent.

Which process answers a connection is the kernel's choice, so the tests find out: the
server end of each loopback connection is looked up in /proc (Linux) to learn the pid of
the child that accepted it.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.cli.conftest import run_cli
from tests.cli.serving import RawConnection, Server, register_and_login, running_server
from tests.factories import PASSWORD

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")

MAX_CONNECTION_ATTEMPTS = 60


def serving_children(parent: int) -> list[int]:
    """The parent's server children (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [
        int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def accepting_pid(connection: RawConnection, server_port: int, pids: list[int]) -> int:
    """The pid whose socket is the server end of ``connection``."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        remote_port = int(fields[2].split(":")[1], 16)
        if local_port == server_port and remote_port == connection.local_port:
            inode = fields[9]
    assert inode is not None, "server end of the connection not found"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except FileNotFoundError:
                continue
    pytest.fail(f"no child holds socket {inode}")


def one_connection_per_process(server: Server, pids: list[int]) -> dict[int, RawConnection]:
    """Open connections until each child has accepted one; close the spare ones."""
    found: dict[int, RawConnection] = {}
    for _ in range(MAX_CONNECTION_ATTEMPTS):
        connection = RawConnection(server)
        assert connection.request("GET", "/healthz")[0] == 200  # accepted, for sure
        owner = accepting_pid(connection, server.port, pids)
        if owner in found:
            connection.close()
        else:
            found[owner] = connection
        if len(found) == len(pids):
            return found
    pytest.fail(f"{MAX_CONNECTION_ATTEMPTS} connections all went to {list(found)}")


@pytest.fixture
def two_processes(cli_environ: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    """``--workers 2`` on each backend (PostgreSQL upgraded first, as a release does)."""
    if "postgresql" in cli_environ["DATABASE_URL"]:
        assert run_cli("db", "upgrade", env=cli_environ, cwd=tmp_path).returncode == 0
    with running_server(
        cli_environ, tmp_path, args=["--workers", "2", "--drain-seconds", "1"], worker=True
    ) as server:
        yield server


def test_two_processes_serve_and_drain_together(two_processes: Server) -> None:
    server = two_processes
    children = serving_children(server.process.pid)
    assert len(children) == 2
    assert all(str(pid) in "".join(server.output) for pid in children)  # announced
    connections = one_connection_per_process(server, children)
    with server.client() as http:
        assert all(http.get("/readyz").status_code == 200 for _ in range(20))

    server.process.send_signal(signal.SIGTERM)
    # Both children drain: each still answers on its own connection, and says not ready.
    time.sleep(0.3)
    for connection in connections.values():
        status, _, body = connection.request("GET", "/readyz")
        assert status == 503 and b"draining" in body
        assert connection.request("GET", "/healthz")[0] == 200
    output = server.wait_for_exit(15)
    assert server.process.returncode == 0
    assert output.count("Received SIGTERM: draining for 1 s") == 2
    assert output.count("Application shutdown complete.") == 2
    assert "Traceback" not in output
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid)
    for connection in connections.values():
        connection.close()


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0]


def test_login_throttling_counts_across_processes(two_processes: Server) -> None:
    """5 failures spread over both processes; the 6th is refused by either one."""
    server = two_processes
    register_and_login(server, "ada@example.com")
    connections = list(
        one_connection_per_process(server, serving_children(server.process.pid)).values()
    )
    wrong = urlencode({"username": "ada@example.com", "password": "not-" + PASSWORD}).encode()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for attempt in range(5):
        status, _, _ = connections[attempt % 2].request("POST", "/auth/login", wrong, form)
        assert status == 401
    right = urlencode({"username": "ada@example.com", "password": PASSWORD}).encode()
    for connection in connections:
        status, headers, _ = connection.request("POST", "/auth/login", right, form)
        assert status == 429
        assert int(headers["retry-after"]) > 0
        connection.close()
