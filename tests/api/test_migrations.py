"""The schema comes from the Alembic migrations (api/migrations/), on SQLite and PostgreSQL:
they build exactly what the models declare, they go down and up again, and several
processes starting the API at once on a fresh database all come up.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
from multiprocessing.synchronize import Barrier
from queue import Queue
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Connection

from api import migrate
from api.db import create_engine
from api.main import create_app
from controller.siteconfig import load_site
from edge import cli
from tests.api.conftest import running, settings_for
from tests.conftest import DEMO_SITE

PROCESSES = 4
# Generous: four interpreters import the app on two shared cores before the race starts.
STARTUP_DEADLINE_S = 120.0


def _normalised(sql: str) -> str:
    # PostgreSQL gives back `(a + b) <= c` for `a + b <= c`: compare without the grouping.
    return re.sub(r"[\s()]", "", sql).lower()


def schema_drift(conn: Connection) -> list[Any]:
    """How the database differs from the models. `compare_metadata` sees tables, columns,
    types, nullability, indexes, unique and foreign keys, but neither CHECK constraints nor
    a partial index's WHERE: those are compared here by name and normalised SQL."""
    metadata = migrate.metadata()
    drift: list[Any] = list(
        compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    )
    dialect = conn.dialect.name
    inspector = sa.inspect(conn)
    for table in metadata.sorted_tables:
        declared_checks = {
            (str(c.name), _normalised(str(c.sqltext)))
            for c in table.constraints
            if isinstance(c, sa.CheckConstraint)
        }
        found_checks = {
            (c["name"], _normalised(c["sqltext"]))
            for c in inspector.get_check_constraints(table.name)
        }
        if declared_checks != found_checks:
            drift.append(("checks", table.name, declared_checks ^ found_checks))
        found_where = {
            ix["name"]: ix["dialect_options"].get(f"{dialect}_where")
            for ix in inspector.get_indexes(table.name)
        }
        for index in table.indexes:
            where = index.dialect_options[dialect].get("where")
            found = found_where.get(index.name)
            if (where is None) != (found is None) or (
                where is not None and _normalised(str(where)) != _normalised(str(found))
            ):
                drift.append(("index where", index.name, where, found))
    return drift


async def on_database(url: str, fn: Any, *args: Any) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn, *args)
    finally:
        await engine.dispose()


def table_names(conn: Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names())


def versions(conn: Connection) -> list[str]:
    return list(conn.scalars(sa.text("SELECT version_num FROM alembic_version")))


async def test_migrations_build_exactly_the_models_schema(database_url: str) -> None:
    assert await migrate.upgrade(database_url) == migrate.head_revision()

    assert await on_database(database_url, schema_drift) == []


async def test_the_drift_check_sees_what_compare_metadata_misses(database_url: str) -> None:
    # Guards the test above: the parts `compare_metadata` cannot see are compared by hand.
    await migrate.upgrade(database_url)

    def drift_after_ddl(conn: Connection) -> list[Any]:
        with conn.begin():
            ops = Operations(MigrationContext.configure(conn))
            ops.drop_index("ix_reservations_open_bin", table_name="reservations")
            # The same columns without the WHERE: only the hand comparison can see that.
            ops.create_index(
                "ix_reservations_open_bin",
                "reservations",
                ["bin_id", "qty", "picked_qty", "released_qty"],
            )
            with ops.batch_alter_table("bins") as batch:
                batch.create_check_constraint("bins_on_hand_small", "on_hand < 1000")
        return schema_drift(conn)

    drift = await on_database(database_url, drift_after_ddl)

    assert {(kind, name) for kind, name, *_ in drift} == {
        ("checks", "bins"),
        ("index where", "ix_reservations_open_bin"),
    }


async def test_downgrade_to_base_then_upgrade_to_head(database_url: str) -> None:
    head = await migrate.upgrade(database_url)

    assert await migrate.downgrade(database_url, "base") == ""
    assert await on_database(database_url, table_names) == {"alembic_version"}

    assert await migrate.upgrade(database_url) == head
    assert await on_database(database_url, schema_drift) == []


async def test_a_database_built_before_migrations_is_adopted_and_keeps_its_rows(
    database_url: str,
) -> None:
    # What the API did before migrations: `create_all` of the models as they were then,
    # which is the first revision's schema (later revisions added to it), with no
    # alembic_version table.
    await migrate.upgrade(database_url, migrate.base_revision())

    def legacy_rows(conn: Connection) -> None:
        with conn.begin():
            conn.execute(sa.text("DROP TABLE alembic_version"))
            conn.execute(sa.text("INSERT INTO sites (site, name, last_seq) VALUES ('x', 'X', 7)"))

    await on_database(database_url, legacy_rows)

    assert await migrate.upgrade(database_url) == migrate.head_revision()
    assert await on_database(database_url, schema_drift) == []
    rows = await on_database(
        database_url, lambda c: c.execute(sa.text("SELECT * FROM sites")).all()
    )
    assert [tuple(r) for r in rows] == [("x", "X", 7)]


async def test_sqlite_batch_alter_of_a_referenced_table_keeps_every_row(
    sqlite_only_url: str,
) -> None:
    # What a future revision altering `bins` does on SQLite: copy the table, drop the old
    # one, rename. The drop must not trip the foreign keys of the ledger's seed rows.
    app = create_app(settings_for(sqlite_only_url))
    async with running(app):
        pass
    count = "SELECT count(*) FROM stock_ledger WHERE bin_id IS NOT NULL"
    referencing = await on_database(sqlite_only_url, lambda c: c.scalar(sa.text(count)))
    assert referencing > 0

    def widen_tote_id(conn: Connection) -> None:
        ops = Operations(MigrationContext.configure(conn, opts={"render_as_batch": True}))
        with ops.batch_alter_table("bins") as batch:
            batch.alter_column("tote_id", existing_type=sa.String(64), type_=sa.String(80))

    engine = create_engine(sqlite_only_url)
    try:
        async with migrate.schema_lock(engine) as conn:
            await conn.run_sync(widen_tote_id)
    finally:
        await engine.dispose()

    assert await on_database(sqlite_only_url, lambda c: c.scalar(sa.text(count))) == referencing
    fk_check = "PRAGMA foreign_key_check"
    assert await on_database(sqlite_only_url, lambda c: c.execute(sa.text(fk_check)).all()) == []


async def test_sqlite_foreign_keys_are_off_only_in_an_altering_schema_transaction(
    sqlite_only_url: str,
) -> None:
    await migrate.upgrade(sqlite_only_url)
    engine = create_engine(sqlite_only_url, busy_timeout_s=1.0)
    fk = sa.text("PRAGMA foreign_keys")
    try:
        async with migrate.schema_lock(engine, altering=True) as conn:
            assert await conn.scalar(fk) == 0
        async with migrate.schema_lock(engine, altering=False) as conn:
            assert await conn.scalar(fk) == 1  # a start at head seeds with them enforced
        async with engine.connect() as conn:
            assert await conn.scalar(fk) == 1  # and the pool gets them back on
    finally:
        await engine.dispose()


async def test_sqlite_schema_change_leaving_a_dangling_key_is_rolled_back(
    sqlite_only_url: str,
) -> None:
    await migrate.upgrade(sqlite_only_url)
    engine = create_engine(sqlite_only_url)
    statements = [
        "CREATE TABLE scratch (id INTEGER PRIMARY KEY)",
        "INSERT INTO skus (sku, gtin, name, lot_tracked) VALUES ('s', 'g', 'n', 0)",
        "INSERT INTO bins (site, bin, tote_id, sku, on_hand) VALUES ('nowhere', 'b', 't', 's', 1)",
    ]

    async def dangling_migration() -> None:
        async with migrate.schema_lock(engine) as conn:
            for statement in statements:
                await conn.execute(sa.text(statement))

    try:
        with pytest.raises(migrate.ForeignKeysBroken) as broken:
            await dangling_migration()
        assert [v[0] for v in broken.value.violations] == ["bins"]
        async with engine.connect() as conn:
            assert "scratch" not in await conn.run_sync(table_names)
            assert await conn.scalar(sa.text("SELECT count(*) FROM bins")) == 0
    finally:
        await engine.dispose()


def _start_the_app(database_url: str, barrier: Barrier, results: Queue[tuple[str, Any]]) -> None:
    """One API process: wait for the others, run the lifespan, ask /readyz."""

    async def start() -> int:
        app = create_app(settings_for(database_url))
        async with running(app) as client:
            return (await client.get("/readyz")).status_code

    try:
        barrier.wait(timeout=STARTUP_DEADLINE_S)  # imports done: all race for the schema
        results.put(("ready", asyncio.run(start())))
    except BaseException as exc:
        results.put(("failed", repr(exc)))


async def test_four_processes_starting_at_once_on_a_fresh_database_all_come_up(
    database_url: str,
) -> None:
    spawn = multiprocessing.get_context("spawn")  # fresh interpreters, as uvicorn's workers
    barrier = spawn.Barrier(PROCESSES)
    results: Queue[tuple[str, Any]] = spawn.Queue()
    processes = [
        spawn.Process(target=_start_the_app, args=(database_url, barrier, results))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    try:
        outcomes = [
            await asyncio.to_thread(results.get, timeout=STARTUP_DEADLINE_S) for _ in processes
        ]
    finally:
        for process in processes:
            await asyncio.to_thread(process.join, STARTUP_DEADLINE_S)
            if process.is_alive():
                process.kill()

    assert outcomes == [("ready", 200)] * PROCESSES
    assert await on_database(database_url, versions) == [migrate.head_revision()]
    # Seeded once: the seed ledger holds each configured bin's quantity once.
    site = load_site(DEMO_SITE)
    configured = sum(b.qty for sku in site.skus for b in sku.bins)
    seed_sum = "SELECT coalesce(sum(qty_delta), 0) FROM stock_ledger WHERE reason = 'seed'"
    assert await on_database(database_url, lambda c: c.scalar(sa.text(seed_sum))) == configured


def test_warehouse_migrate_upgrades_to_head_and_is_idempotent(
    sqlite_only_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(2):
        assert cli.main(["migrate", "--database-url", sqlite_only_url]) == 0
        assert capsys.readouterr().out == f"database at {migrate.head_revision()}\n"


def test_warehouse_migrate_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.build_parser().parse_args(["migrate", "--help"])
    assert done.value.code == 0
    assert "usage: warehouse migrate" in capsys.readouterr().out
