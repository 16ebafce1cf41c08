"""``duespark serve`` drains on SIGTERM: not ready at once, serving on, then a clean exit 0.

Real server processes on loopback (SQLite: draining does not depend on the backend). The
timings are chosen with wide margins: the drain periods are seconds long and each check
only asks for an order of magnitude (0.5 s to turn not-ready, a few seconds to exit).
"""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.cli.conftest import base_environ
from tests.cli.serving import RawConnection, Server, register_and_login, running_server
from tests.factories import PASSWORD

NOT_READY_WITHIN_S = 0.5
EXIT_WITHIN_S = 10


def wait_until_draining(server: Server) -> float:
    """Poll /readyz until it answers 503 draining; return how long that took."""
    started = time.monotonic()
    with server.client() as http:
        while time.monotonic() - started < 5:
            answer = http.get("/readyz")
            if answer.status_code == 503:
                assert answer.json()["status"] == "draining"
                return time.monotonic() - started
            time.sleep(0.02)
    pytest.fail("/readyz never turned 503 after the signal")


def test_sigterm_drains_serves_finishes_in_flight_and_exits_zero(tmp_path: Path) -> None:
    drain_s = 3.0
    with running_server(base_environ(), tmp_path, args=["--drain-seconds", str(drain_s)]) as server:
        register_and_login(server, "ada@example.com")
        idle = RawConnection(server)
        status, headers, _ = idle.request("GET", "/healthz")
        assert status == 200 and headers.get("connection") != "close"
        # A login whose body is still arriving when SIGTERM comes, and after the drain.
        body = urlencode({"username": "ada@example.com", "password": PASSWORD}).encode()
        in_flight = RawConnection(server)
        in_flight.send_head(
            "POST",
            "/auth/login",
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Content-Length": str(len(body)),
            },
        )
        in_flight.sock.sendall(body[:10])

        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert wait_until_draining(server) < NOT_READY_WITHIN_S
        with server.client() as http:
            # Alive, and still serving newly routed requests during the drain.
            assert http.get("/healthz").json() == {"status": "ok"}
            login = http.post(
                "/auth/login", data={"username": "ada@example.com", "password": PASSWORD}
            )
            assert login.status_code == 200
        assert idle.request("GET", "/healthz")[0] == 200  # keep-alive served too
        assert not idle.closed_by_server(timeout=0.5)
        assert server.process.poll() is None

        # After the drain: idle keep-alive connections are closed, new ones refused...
        assert idle.closed_by_server(timeout=drain_s + 2)
        assert time.monotonic() - signalled >= drain_s
        with (
            pytest.raises(ConnectionRefusedError),
            socket.create_connection(("127.0.0.1", server.port), timeout=2),
        ):
            pass
        # ...but the request in flight is waited for, and answered.
        assert server.process.poll() is None
        in_flight.sock.sendall(body[10:])
        status, headers, answer = in_flight.read_response()
        assert status == 200, answer
        assert b"access_token" in answer
        # Shutting down, the server does not keep that connection alive either.
        assert headers.get("connection") == "close" or in_flight.closed_by_server(timeout=2)

        output = server.wait_for_exit(EXIT_WITHIN_S)
        assert server.process.returncode == 0
        assert "Received SIGTERM: draining for 3 s" in output
        assert "Traceback" not in output
        idle.close()
        in_flight.close()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_second_signal_ends_the_drain_early(tmp_path: Path, stop: signal.Signals) -> None:
    with running_server(base_environ(), tmp_path, args=["--drain-seconds", "60"]) as server:
        signalled = time.monotonic()
        server.process.send_signal(stop)
        wait_until_draining(server)
        time.sleep(1)  # well past the window in which a repeat counts as the same signal
        assert server.process.poll() is None  # the first signal alone does not stop it
        server.process.send_signal(stop)
        output = server.wait_for_exit(EXIT_WITHIN_S)
        assert server.process.returncode == 0
        assert time.monotonic() - signalled < 20  # nowhere near the 60 s drain
        assert f"Received {stop.name} again: ending the drain now" in output


def test_drain_seconds_comes_from_the_environment(tmp_path: Path) -> None:
    """DUESPARK_DRAIN_SECONDS sets the drain when --drain-seconds is not given."""
    with running_server(base_environ(DUESPARK_DRAIN_SECONDS="1.5"), tmp_path) as server:
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        wait_until_draining(server)
        output = server.wait_for_exit(EXIT_WITHIN_S)
        assert server.process.returncode == 0
        assert time.monotonic() - signalled >= 1.5
        assert "draining for 1.5 s" in output


def test_the_embedded_worker_stops_cleanly(tmp_path: Path) -> None:
    with running_server(
        base_environ(), tmp_path, args=["--drain-seconds", "0.5"], worker=True
    ) as server:
        time.sleep(1)  # let the worker thread get into its loop
        server.process.send_signal(signal.SIGTERM)
        output = server.wait_for_exit(EXIT_WITHIN_S)
    assert server.process.returncode == 0
    assert "stopped" in output and '"logger": "duespark.worker"' in output
    assert "Traceback" not in output
    assert "Application shutdown complete." in output


def test_invalid_drain_setting_is_refused(tmp_path: Path) -> None:
    from tests.cli.conftest import run_cli

    result = run_cli(
        "serve", env=base_environ(DUESPARK_DRAIN_SECONDS="-1"), cwd=tmp_path, timeout=30
    )
    assert result.returncode == 2
    assert "DUESPARK_DRAIN_SECONDS" in result.stderr
