#!/usr/bin/env python3
"""Roll PostgreSQL-backed ``duespark serve`` instances behind HAProxy under load, and prove
that nothing fails and no acknowledged write is lost.

    .venv/bin/python scripts/rolling_restart.py --rolls 5              # the real test
    .venv/bin/python scripts/rolling_restart.py --rolls 1 --mode kill  # the control

What it does, all on loopback and in a temporary directory:

1. creates its own PostgreSQL database (``DUESPARK_TEST_POSTGRES_URL`` or the local
   ``postgres`` superuser), runs ``duespark db upgrade``;
2. starts ``--instances`` (3) ``duespark serve --no-worker`` processes on free ports and an
   HAProxy in front of them, health-checking ``GET /readyz`` every 200 ms (fall 2, rise 2),
   with a stats socket to read the servers' state;
3. registers an account and drives ``--clients`` (16) keep-alive clients through HAProxy,
   mixing ``GET /invoices`` and ``POST /invoices`` (unique numbers), for the whole run;
4. rolls the instances one at a time, ``--rolls`` times. ``drain`` mode: SIGTERM (the
   server was started with ``--drain-seconds``, so /readyz turns 503 while it keeps
   serving) → wait until HAProxy shows it DOWN → wait for exit → start it again → wait
   until /readyz answers 200 and HAProxy shows it UP. ``term`` mode is the naive
   procedure (SIGTERM with ``--drain-seconds 0``), ``kill`` sends SIGKILL: both are
   controls that show the failures draining prevents. An instance is never stopped
   unless another one is UP, and a sampler checks that at least one always is;
5. stops the load and checks: 0 failed requests, and every invoice the API acknowledged
   (201) exists in the database.

It prints one line per roll (requests, failures, duration) and a final ``RESULT {json}``
line, and exits 0 only when every check passed (1 when a check failed, 2 when the setup
itself failed). Needs ``haproxy`` on PATH and the test extras (httpx2).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import httpx2
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

DUESPARK = str(Path(sys.executable).parent / "duespark")
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CHECK_INTER_MS = 200
CHECK_FALL = 2
CHECK_RISE = 2
START_TIMEOUT_S = 30
STATE_TIMEOUT_S = 15
REQUEST_TIMEOUT_S = 10
SETUP_FAILED = 2


class SetupError(Exception):
    """The harness itself could not run (no haproxy, no PostgreSQL, a server that will not
    start): not a verdict on draining, so it exits 2 rather than 1."""


def say(text: str, stream: TextIO = sys.stdout) -> None:
    """One line of the report, flushed at once so a caller reading the pipe sees progress."""
    stream.write(text + "\n")
    stream.flush()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition`` every 20 ms; return the seconds it took, raise on timeout."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise SetupError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - started


def serve_supports_drain() -> bool:
    """Whether this build's ``duespark serve`` has ``--drain-seconds`` (older ones shut
    down at once on SIGTERM, which makes ``drain`` mode the same as ``term``)."""
    result = subprocess.run(
        [DUESPARK, "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    return "--drain-seconds" in result.stdout


# --- PostgreSQL ------------------------------------------------------------------------


class ScratchDatabase:
    """A uniquely named database on the admin URL's server, dropped on close."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"duespark_roll_{secrets.token_hex(4)}"
        try:
            with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        except psycopg.Error as exc:
            raise SetupError(f"cannot create a database on {admin_url}: {exc}") from None
        url = make_url(admin_url)
        self.sqlalchemy_url = url.set(drivername="postgresql+psycopg", database=self.name)
        self.psycopg_url = url.set(database=self.name).render_as_string(hide_password=False)

    @property
    def url(self) -> str:
        return self.sqlalchemy_url.render_as_string(hide_password=False)

    def invoice_numbers(self, email: str) -> set[str]:
        with psycopg.connect(self.psycopg_url, connect_timeout=5) as connection:
            rows = connection.execute(
                "SELECT i.number FROM invoice i JOIN user_account u ON u.id = i.user_id "
                "WHERE u.email = %s",
                (email,),
            ).fetchall()
        return {row[0] for row in rows}

    def close(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )


# --- the servers and HAProxy -----------------------------------------------------------


@dataclass
class Instance:
    """One ``duespark serve`` on a fixed port, so HAProxy's configuration stays valid
    across restarts."""

    name: str
    port: int
    command: list[str]
    environ: dict[str, str]
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.workdir / f"{self.name}.{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [*self.command, "--port", str(self.port)],
            env=self.environ,
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_until(self.ready, START_TIMEOUT_S, f"{self.name} to answer /readyz with 200")

    def ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise SetupError(f"{self.name} exited with {self.process.returncode}:\n{self.log()}")
        try:
            answer = httpx2.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1)
        except httpx2.HTTPError:
            return False
        return answer.status_code == 200

    def log(self) -> str:
        path = self.workdir / f"{self.name}.{self.starts}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def wait(self, timeout: float) -> int:
        """Wait for the exit the signal already asked for (a second SIGTERM would make
        uvicorn skip its graceful shutdown)."""
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
            raise SetupError(f"{self.name} did not exit within {timeout:.0f} s") from None


HAPROXY_CONFIG = """\
global
    stats socket {socket} mode 600 level admin
    maxconn 2000

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 2s
    # A check answer may queue behind busy requests: without this the check timeout is
    # `inter` (200 ms), and a loaded server would flap DOWN without being restarted.
    timeout check 2s
    # Connection failures only (no L7 retries: a POST must never be replayed), and the
    # last retry may go to another server.
    retries 3
    option redispatch 1

frontend public
    bind 127.0.0.1:{port}
    default_backend app

backend app
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    # pool-purge-delay: close idle upstream connections well before uvicorn's 5 s
    # keep-alive timeout does, so the two never race outside a restart.
    default-server inter {inter}ms fall {fall} rise {rise} pool-purge-delay 1s
{servers}
"""


class HAProxy:
    def __init__(self, workdir: Path, instances: list[Instance]) -> None:
        executable = shutil.which("haproxy")
        if executable is None:
            raise SetupError("haproxy is not installed (apt-get install -y haproxy)")
        self.port = free_port()
        self.socket = workdir / "haproxy.sock"
        config = workdir / "haproxy.cfg"
        config.write_text(
            HAPROXY_CONFIG.format(
                socket=self.socket,
                port=self.port,
                inter=CHECK_INTER_MS,
                fall=CHECK_FALL,
                rise=CHECK_RISE,
                servers="\n".join(
                    f"    server {i.name} 127.0.0.1:{i.port} check" for i in instances
                ),
            )
        )
        self.log_path = workdir / "haproxy.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [executable, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_until(self._listening, 10, "haproxy to listen")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _listening(self) -> bool:
        if self.process.poll() is not None:
            raise SetupError("haproxy exited:\n" + self.log_path.read_text(errors="replace"))
        return self.socket.exists()

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(2)
            connection.connect(str(self.socket))
            connection.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := connection.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def states(self) -> dict[str, str]:
        """Server name → "UP" or "DOWN", from ``show stat`` (a server on its way down,
        "UP 1/2", still takes traffic, so it counts as UP)."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        name, status, proxy = header.index("svname"), header.index("status"), 0
        states = {}
        for line in lines[1:]:
            fields = line.split(",")
            if len(fields) > status and fields[proxy] == "app" and fields[name] != "BACKEND":
                states[fields[name]] = "UP" if fields[status].startswith("UP") else "DOWN"
        return states

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


class UpSampler(threading.Thread):
    """Checks the orchestrator's own invariant from outside: at least one backend UP at
    every sample (a harness bug that takes them all down would otherwise just look like
    a bad server)."""

    def __init__(self, haproxy: HAProxy) -> None:
        super().__init__(daemon=True)
        self.haproxy = haproxy
        self.stopping = threading.Event()
        self.min_up: int | None = None
        self.samples = 0

    def run(self) -> None:
        while not self.stopping.wait(0.05):
            try:
                up = sum(state == "UP" for state in self.haproxy.states().values())
            except OSError:
                continue
            self.samples += 1
            self.min_up = up if self.min_up is None else min(self.min_up, up)


# --- the load --------------------------------------------------------------------------


@dataclass
class Tally:
    requests: int = 0
    failures: int = 0
    errors: dict[str, int] = field(default_factory=dict)


class Load:
    """``clients`` threads, each with its own keep-alive connection through HAProxy,
    alternating GET /invoices and POST /invoices; every result is counted against the
    phase that was current when the request started."""

    def __init__(self, url: str, token: str, client_id: int, clients: int) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.client_id = client_id
        self.lock = threading.Lock()
        self.phase = "warm-up"
        self.tallies: dict[str, Tally] = {"warm-up": Tally()}
        self.acknowledged: set[str] = set()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(clients)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=REQUEST_TIMEOUT_S + 5)

    def enter(self, phase: str) -> None:
        with self.lock:
            self.phase = phase
            self.tallies.setdefault(phase, Tally())

    def requests_in(self, phase: str) -> int:
        with self.lock:
            return self.tallies[phase].requests

    def _record(self, phase: str, error: str | None, number: str | None) -> None:
        with self.lock:
            tally = self.tallies[phase]
            tally.requests += 1
            if error is not None:
                tally.failures += 1
                tally.errors[error] = tally.errors.get(error, 0) + 1
            elif number is not None:
                self.acknowledged.add(number)

    def _client(self, n: int) -> None:
        sequence = 0
        with httpx2.Client(
            base_url=self.url, headers=self.headers, timeout=REQUEST_TIMEOUT_S
        ) as http:
            while not self.stopping.is_set():
                sequence += 1
                with self.lock:
                    phase = self.phase
                number = None
                try:
                    if sequence % 2:
                        answer = http.get("/invoices", params={"limit": 10, "sort": "-created_at"})
                        expected = 200
                    else:
                        number = f"R{n:02d}-{sequence:07d}"
                        answer = http.post(
                            "/invoices",
                            json={
                                "client_id": self.client_id,
                                "number": number,
                                "amount": "100.00",
                                "due_date": "2030-01-31",
                            },
                        )
                        expected = 201
                    error = None if answer.status_code == expected else f"HTTP {answer.status_code}"
                except httpx2.HTTPError as exc:
                    error = type(exc).__name__
                self._record(phase, error, number if error is None else None)


def register(url: str) -> tuple[str, str, int]:
    """A fresh account with one client; returns (email, access token, client id)."""
    email = f"roll-{secrets.token_hex(4)}@example.com"
    password = secrets.token_urlsafe(18)
    with httpx2.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as http:
        created = http.post(
            "/auth/register", json={"email": email, "password": password, "name": "Roller"}
        )
        if created.status_code != 201:
            raise SetupError(f"register: {created.status_code} {created.text}")
        login = http.post("/auth/login", data={"username": email, "password": password})
        if login.status_code != 200:
            raise SetupError(f"login: {login.status_code} {login.text}")
        token = login.json()["access_token"]
        client = http.post(
            "/clients",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "name": "Payer",
                "email": "payer@example.com",
                "time_zone": "Europe/Berlin",
                "default_currency": "EUR",
            },
        )
        if client.status_code != 201:
            raise SetupError(f"create client: {client.status_code} {client.text}")
    return email, token, int(client.json()["id"])


# --- the roll --------------------------------------------------------------------------


@dataclass
class RollReport:
    number: int
    requests: int
    failures: int
    seconds: float
    errors: dict[str, int]
    down_after_s: list[float]


def restart(instance: Instance, haproxy: HAProxy, mode: str, drain_seconds: float) -> float:
    """Stop and start one instance the way ``mode`` says; returns how long HAProxy took to
    mark it DOWN after the signal."""
    others_up = [n for n, s in haproxy.states().items() if n != instance.name and s == "UP"]
    if not others_up:
        raise SetupError(f"refusing to stop {instance.name}: it is the last server UP")
    signum = signal.SIGKILL if mode == "kill" else signal.SIGTERM
    assert instance.process is not None
    instance.process.send_signal(signum)
    down_after = wait_until(
        lambda: haproxy.states()[instance.name] == "DOWN",
        STATE_TIMEOUT_S,
        f"haproxy to mark {instance.name} DOWN",
    )
    code = instance.wait(timeout=drain_seconds + STATE_TIMEOUT_S)
    if mode != "kill" and code != 0:
        raise SetupError(f"{instance.name} exited with {code} after SIGTERM:\n{instance.log()}")
    instance.start()
    wait_until(
        lambda: haproxy.states()[instance.name] == "UP",
        STATE_TIMEOUT_S,
        f"haproxy to mark {instance.name} UP",
    )
    return down_after


def run(args: argparse.Namespace) -> dict[str, object]:
    drain_supported = serve_supports_drain()
    if args.mode == "drain" and not drain_supported:
        say(
            "warning: `duespark serve` has no --drain-seconds here; SIGTERM stops at once, "
            "so drain mode is the naive restart"
        )
    drain_seconds = args.drain_seconds if args.mode == "drain" else 0.0
    command = [DUESPARK, "serve", "--no-worker"]
    if drain_supported:
        command += ["--drain-seconds", f"{drain_seconds:g}"]
    admin_url = args.postgres_url or os.environ.get("DUESPARK_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL)
    if shutil.which("haproxy") is None:
        raise SetupError("haproxy is not installed (apt-get install -y haproxy)")
    database = ScratchDatabase(admin_url)
    workdir = Path(tempfile.mkdtemp(prefix="duespark-roll-"))
    environ = {
        **{k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ},
        "DATABASE_URL": database.url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DUESPARK_ACCESS_TOKEN_MINUTES": "240",
    }
    instances: list[Instance] = []
    haproxy: HAProxy | None = None
    load: Load | None = None
    sampler: UpSampler | None = None
    try:
        upgrade = subprocess.run(
            [DUESPARK, "db", "upgrade"],
            env=environ,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if upgrade.returncode != 0:
            raise SetupError(f"duespark db upgrade failed:\n{upgrade.stdout}{upgrade.stderr}")
        instances = [
            Instance(f"s{n + 1}", free_port(), command, environ, workdir)
            for n in range(args.instances)
        ]
        for instance in instances:
            instance.start()
        haproxy = HAProxy(workdir, instances)
        wait_until(
            lambda: set(haproxy.states().values()) == {"UP"}, STATE_TIMEOUT_S, "all servers UP"
        )
        email, token, client_id = register(haproxy.url)
        sampler = UpSampler(haproxy)
        sampler.start()
        load = Load(haproxy.url, token, client_id, args.clients)
        load.start()
        time.sleep(1.0)
        reports: list[RollReport] = []
        for roll in range(1, args.rolls + 1):
            phase = f"roll {roll}"
            load.enter(phase)
            started = time.monotonic()
            down_after = [
                restart(instance, haproxy, args.mode, drain_seconds) for instance in instances
            ]
            # Every roll sees at least --min-requests requests, the steady part included.
            wait_until(
                lambda phase=phase: load.requests_in(phase) >= args.min_requests,
                300,
                f"{args.min_requests} requests in {phase}",
            )
            seconds = time.monotonic() - started
            tally = load.tallies[phase]
            report = RollReport(
                roll, tally.requests, tally.failures, seconds, dict(tally.errors), down_after
            )
            reports.append(report)
            say(
                f"roll {roll}/{args.rolls} ({args.mode}): {report.requests} requests, "
                f"{report.failures} failed, {seconds:.1f} s, HAProxy marked DOWN after "
                + ", ".join(f"{s:.2f}" for s in down_after)
                + " s"
                + (f"; errors {report.errors}" if report.errors else "")
            )
        load.enter("cool-down")
        time.sleep(0.5)
        load.stop()
        sampler.stopping.set()
        sampler.join(timeout=5)
        stored = database.invoice_numbers(email)
        lost = sorted(load.acknowledged - stored)
        totals = {
            phase: {"requests": t.requests, "failures": t.failures}
            for phase, t in load.tallies.items()
        }
        return {
            "mode": args.mode,
            "drain_supported": drain_supported,
            "drain_seconds": drain_seconds if drain_supported else None,
            "instances": args.instances,
            "clients": args.clients,
            # Requests still in flight when a roll's line was printed count for that roll.
            "rolls": [
                {
                    **report.__dict__,
                    "requests": load.tallies[f"roll {report.number}"].requests,
                    "failures": load.tallies[f"roll {report.number}"].failures,
                    "errors": load.tallies[f"roll {report.number}"].errors,
                }
                for report in reports
            ],
            "phases": totals,
            "requests": sum(t.requests for t in load.tallies.values()),
            "failures": sum(t.failures for t in load.tallies.values()),
            "acknowledged_writes": len(load.acknowledged),
            "lost_writes": len(lost),
            "lost_examples": lost[:5],
            "min_servers_up": sampler.min_up,
            "up_samples": sampler.samples,
        }
    finally:
        if load is not None:
            load.stop()
        if sampler is not None:
            sampler.stopping.set()
        if haproxy is not None:
            haproxy.stop()
        for instance in instances:
            if instance.process is not None and instance.process.poll() is None:
                instance.process.kill()
                instance.process.wait(timeout=5)
        database.close()
        if args.keep_logs:
            say(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rolls", type=int, default=5, help="full rolls to run (default 5)")
    parser.add_argument(
        "--mode",
        choices=["drain", "term", "kill"],
        default="drain",
        help="drain (the real procedure), term (naive SIGTERM) or kill (SIGKILL): "
        "the last two are controls that should fail",
    )
    parser.add_argument("--instances", type=int, default=3, help="servers behind HAProxy")
    parser.add_argument("--clients", type=int, default=16, help="concurrent load clients")
    parser.add_argument(
        "--min-requests", type=int, default=3000, help="at least this many requests per roll"
    )
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=2.0,
        help="serve --drain-seconds in drain mode; must exceed HAProxy's fall x inter "
        f"({CHECK_FALL} x {CHECK_INTER_MS} ms) plus one check",
    )
    parser.add_argument(
        "--postgres-url",
        help="an admin URL on the PostgreSQL server (default: DUESPARK_TEST_POSTGRES_URL, "
        f"else {DEFAULT_ADMIN_URL})",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.instances < 2:
        parser.error("--instances must be at least 2: the last server UP is never stopped")
    try:
        result = run(args)
    except SetupError as exc:
        say(f"setup failed: {exc}", sys.stderr)
        return SETUP_FAILED
    problems = []
    if result["failures"]:
        problems.append(f"{result['failures']} failed requests")
    if result["lost_writes"]:
        problems.append(f"{result['lost_writes']} acknowledged invoices missing")
    if not result["min_servers_up"]:
        problems.append("at some point no server was UP")
    say(
        f"{args.mode}: {args.rolls} rolls, {result['requests']} requests, "
        f"{result['failures']} failed, {result['acknowledged_writes']} acknowledged writes, "
        f"{result['lost_writes']} lost; at least {result['min_servers_up']} server(s) UP "
        f"throughout: " + ("FAILED: " + "; ".join(problems) if problems else "ok")
    )
    say("RESULT " + json.dumps(result))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
