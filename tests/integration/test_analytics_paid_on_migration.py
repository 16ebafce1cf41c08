"""Migration 0003 adds invoice.paid_on and fills it from paid_at in each account's zone.

Each test builds its own database at revision 0002 (the fixtures' shared database is
already at head), writes invoices the way 0002 stored them, and upgrades.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from duespark.db import build_engine
from duespark.ops import migrations
from tests import postgres

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
# More paid invoices than the migration fills in one batch (5,000), so the keyset
# pagination between batches is exercised too.
BULK = 5_003


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        engine = build_engine(f"sqlite:///{tmp_path / 'migrate.db'}")
        yield engine
        engine.dispose()
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    name = postgres.create_database(admin_url, "duespark_test_paid_on")
    engine = build_engine(postgres.database_url(admin_url, name))
    try:
        yield engine
    finally:
        engine.dispose()
        postgres.drop_database(admin_url, name)


def _tables(engine: sa.Engine) -> sa.MetaData:
    metadata = sa.MetaData()
    metadata.reflect(engine, only=["user_account", "client", "invoice"])
    return metadata


def _seed(engine: sa.Engine) -> dict[str, int]:
    """Two accounts far apart in time zones, each with a client and invoices as of 0002."""
    tables = _tables(engine)
    users, clients, invoices = (tables.tables[n] for n in ("user_account", "client", "invoice"))
    stamps = {"created_at": T0, "updated_at": T0}
    ids: dict[str, int] = {}
    with engine.begin() as connection:
        for key, zone in [("auckland", "Pacific/Auckland"), ("new_york", "America/New_York")]:
            ids[key] = connection.execute(
                users.insert().returning(users.c.id),
                {
                    "email": f"{key}@example.com",
                    "password_hash": "x",
                    "name": key,
                    "business_name": "",
                    "time_zone": zone,
                    "token_version": 1,
                    **stamps,
                },
            ).scalar_one()
            ids[f"{key}_client"] = connection.execute(
                clients.insert().returning(clients.c.id),
                {
                    "user_id": ids[key],
                    "name": key,
                    "email": f"{key}@client.example",
                    "time_zone": "UTC",
                    "locale": "en",
                    "default_currency": "EUR",
                    "notes": "",
                    **stamps,
                },
            ).scalar_one()

        def invoice(
            owner: str, number: str, status: str, paid_at: datetime | None
        ) -> dict[str, object]:
            return {
                "user_id": ids[owner],
                "client_id": ids[f"{owner}_client"],
                "number": number,
                "amount_minor": 100,
                "currency": "EUR",
                "issue_date": date(2026, 5, 1),
                "due_date": date(2026, 5, 31),
                "status": status,
                "paid_at": paid_at,
                "amount_paid_minor": 100 if paid_at else None,
                "notes": "",
                **stamps,
            }

        rows = [
            # 13:00 UTC on 06-09 is 01:00 on 06-10 in Auckland.
            invoice("auckland", "A-1", "paid", datetime(2026, 6, 9, 13, 0, tzinfo=UTC)),
            # 03:00 UTC on 06-10 is 23:00 on 06-09 in New York.
            invoice("new_york", "N-1", "paid", datetime(2026, 6, 10, 3, 0, tzinfo=UTC)),
            invoice("new_york", "N-2", "open", None),
            *(
                invoice("new_york", f"B-{n}", "paid", datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
                for n in range(BULK)
            ),
        ]
        connection.execute(invoices.insert(), rows)
    return ids


def _paid_on(engine: sa.Engine) -> dict[str, date | None]:
    invoices = _tables(engine).tables["invoice"]
    with engine.connect() as connection:
        rows = connection.execute(sa.select(invoices.c.number, invoices.c.paid_on))
        return {number: paid_on for number, paid_on in rows}


def test_upgrade_fills_paid_on_in_each_accounts_zone(engine: sa.Engine) -> None:
    migrations.upgrade(engine, "0002")
    _seed(engine)
    migrations.upgrade(engine, "0003")
    paid_on = _paid_on(engine)
    assert paid_on["A-1"] == date(2026, 6, 10)
    assert paid_on["N-1"] == date(2026, 6, 9)
    assert paid_on["N-2"] is None
    bulk = [paid_on[f"B-{n}"] for n in range(BULK)]
    assert bulk == [date(2026, 3, 2)] * BULK


def test_downgrade_drops_the_column_and_upgrade_refills_it(engine: sa.Engine) -> None:
    migrations.upgrade(engine, "0002")
    _seed(engine)
    migrations.upgrade(engine, "0003")
    _downgrade(engine)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("invoice")}
    assert "paid_on" not in columns and "paid_at" in columns
    migrations.upgrade(engine, "0003")
    assert _paid_on(engine)["A-1"] == date(2026, 6, 10)


def _downgrade(engine: sa.Engine) -> None:
    config = migrations.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
