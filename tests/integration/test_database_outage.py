"""PostgreSQL stops under a running server: clear 503s within a bounded time, then recovery.

A real ``duespark serve`` (with its embedded worker) runs on a PostgreSQL cluster of the
test's own. Traffic keeps flowing while the database is stopped as if it crashed. Every
answer during the outage must be a 503 with DueSpark's error body, never a 500 or a
traceback, and must come within a bounded time; once the database is back, the same server
process answers 200 again without being restarted.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests import postgres
from tests.cli.conftest import base_environ, run_cli
from tests.cli.serving import running_server
from tests.conftest import TEST_SECRET_KEY
from tests.factories import auth_headers
from tests.private_postgres import private_postgres

pytestmark = [pytest.mark.postgresql, pytest.mark.xdist_group("multiprocess")]

# Each answer during the outage must arrive within this time: the connect timeout (5 s)
# plus a margin for a loaded machine.
ANSWER_DEADLINE_S = 10
RECOVERY_DEADLINE_S = 30
OUTAGE_REQUESTS = 6


def _new_client(index: int) -> dict[str, str]:
    return {
        "name": f"Client {index}",
        "email": f"client{index}@example.com",
        "time_zone": "Europe/Paris",
        "default_currency": "EUR",
    }


def test_server_answers_503_while_postgres_is_down_and_recovers_by_itself(
    tmp_path: Path,
) -> None:
    with private_postgres(tmp_path) as server:
        name = postgres.create_database(server.admin_url, "duespark_outage")
        url = postgres.database_url(server.admin_url, name)
        environ = base_environ(DATABASE_URL=url, SECRET_KEY=TEST_SECRET_KEY)
        migrated = run_cli("db", "upgrade", env=environ, cwd=tmp_path)
        assert migrated.returncode == 0, migrated.stderr

        with running_server(environ, tmp_path, worker=True) as duespark, duespark.client() as http:
            headers = auth_headers(http, email="outage@example.com")  # type: ignore[arg-type]
            assert http.post("/clients", json=_new_client(0), headers=headers).status_code == 201

            server.stop("immediate")
            outage: list[tuple[int, float, dict]] = []
            for index in range(OUTAGE_REQUESTS):
                started = time.monotonic()
                if index % 2:
                    response = http.get("/clients", headers=headers, timeout=ANSWER_DEADLINE_S)
                else:
                    response = http.post(
                        "/clients", json=_new_client(index + 1), headers=headers,
                        timeout=ANSWER_DEADLINE_S,
                    )  # fmt: skip
                outage.append((response.status_code, time.monotonic() - started, response.json()))
            ready = http.get("/readyz", timeout=ANSWER_DEADLINE_S)

            for status, seconds, body in outage:
                assert status == 503, outage
                assert seconds < ANSWER_DEADLINE_S, outage
                assert body["error"]["code"] == "service_unavailable", body
                assert "Traceback" not in str(body)
            assert ready.status_code == 503

            server.start()
            deadline = time.monotonic() + RECOVERY_DEADLINE_S
            while True:
                listed = http.get("/clients", headers=headers)
                if listed.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert listed.status_code == 200, listed.text
            # Nothing was half-written during the outage: only the first client exists.
            assert [item["name"] for item in listed.json()["items"]] == ["Client 0"]
            created = http.post("/clients", json=_new_client(99), headers=headers)
            assert created.status_code == 201, created.text
            assert http.get("/readyz").status_code == 200
            assert duespark.process.poll() is None, "the server must survive the outage"
