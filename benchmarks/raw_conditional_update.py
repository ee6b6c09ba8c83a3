"""The limit: one conditional single-row update per transaction, straight on the database.

    UPDATE bench_counter SET available = available - 1 WHERE id = 1 AND available >= 1

committed one per transaction, through async SQLAlchemy (aiosqlite / asyncpg), by 1 and 8
concurrent connections, in a table and a database of its own. This is the most an intake
that commits each order in its own transaction could reach; the intake benchmarks report
their rates as a ratio to it, measured in the same run.

SQLite is set up as api/db.py does (WAL, synchronous=NORMAL, busy timeout, every
transaction `BEGIN IMMEDIATE`), but copied here so that the limit does not move when the
API's code does.

    python -m benchmarks.raw_conditional_update --db sqlite,postgres --connections 1,8
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from benchmarks.common import (
    PG_ADMIN_DSN,
    db_list,
    describe_machine,
    int_list,
    markdown_table,
    median,
    print_machine,
    scratch_database,
    spread,
    work_directory,
    write_json,
)

BUSY_TIMEOUT_S = 30.0  # as the API's default
UPDATE = text("UPDATE bench_counter SET available = available - 1 WHERE id = 1 AND available >= 1")


def _engine(url: str, connections: int) -> AsyncEngine:
    if not url.startswith("sqlite"):
        return create_async_engine(url, pool_size=connections, max_overflow=0)
    engine = create_async_engine(
        url, pool_size=connections, max_overflow=0, connect_args={"timeout": BUSY_TIMEOUT_S}
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver's deferred BEGIN off: ours below
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            f"busy_timeout={int(BUSY_TIMEOUT_S * 1000)}",
            "synchronous=NORMAL",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # a deferred BEGIN fails under 8 writers

    return engine


async def run_once(url: str, connections: int, updates: int) -> float:
    """Updates per second: `updates` conditional updates by `connections` connections, each
    in its own transaction. The counter starts with exactly `updates` units, so the last
    update takes the last unit and one more would find none."""
    engine = _engine(url, connections)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS bench_counter"
                    " (id INTEGER PRIMARY KEY, available INTEGER NOT NULL)"
                )
            )
            await conn.execute(text("DELETE FROM bench_counter"))
            await conn.execute(
                text("INSERT INTO bench_counter (id, available) VALUES (1, :n)"), {"n": updates}
            )
        left, connected, started = updates, 0, 0.0
        everyone_connected = asyncio.Event()

        async def writer() -> None:
            nonlocal left, connected, started
            async with engine.connect() as conn:  # one connection held for the whole run
                # The clock starts once every connection is open.
                connected += 1
                if connected == connections:
                    started = time.perf_counter()
                    everyone_connected.set()
                await everyone_connected.wait()
                while left > 0:
                    left -= 1
                    async with conn.begin():
                        result = await conn.execute(UPDATE)
                    if result.rowcount != 1:
                        raise AssertionError(f"an update found no unit ({left} left)")

        await asyncio.gather(*(writer() for _ in range(connections)))
        elapsed = time.perf_counter() - started
        async with engine.begin() as conn:
            remaining = (await conn.execute(text("SELECT available FROM bench_counter"))).scalar()
            if remaining != 0 or (await conn.execute(UPDATE)).rowcount != 0:
                raise AssertionError(f"{remaining} units left instead of 0")
        return updates / elapsed
    finally:
        await engine.dispose()


def measure(
    db: str,
    *,
    connections: Sequence[int],
    updates: int,
    repeat: int,
    workdir: Path,
    pg_admin_dsn: str,
    verbose: bool = True,
) -> dict[int, list[float]]:
    """Updates/s of each repetition, by number of connections, in a database of its own."""
    rates: dict[int, list[float]] = {c: [] for c in connections}
    with scratch_database(db, workdir, "raw", pg_admin_dsn) as url:
        # Unmeasured: the first run creates the table and (SQLite) the WAL file.
        asyncio.run(run_once(url, max(connections), max(1, updates // 4)))
        for rep in range(1, repeat + 1):
            for c in connections:
                rate = asyncio.run(run_once(url, c, updates))
                rates[c].append(rate)
                if verbose:
                    print(
                        f"raw {db} connections={c} rep {rep}/{repeat}: {rate:,.0f} updates/s",
                        flush=True,
                    )
    return rates


def best(rates: dict[int, list[float]]) -> tuple[int, float]:
    """The limit: the connection count whose median rate is highest, and that median."""
    return max(((c, median(r)) for c, r in rates.items()), key=lambda cr: cr[1])


def table(results: dict[str, dict[int, list[float]]]) -> str:
    rows = [
        [db, c, spread(r), len(r)]
        for db, by_connections in results.items()
        for c, r in by_connections.items()
    ]
    return markdown_table(
        ["db", "connections", "updates/s median (min-max)", "runs"],
        rows,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.raw_conditional_update", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--db", type=db_list, default=["sqlite", "postgres"])
    parser.add_argument("--connections", type=int_list, default=[1, 8])
    parser.add_argument("--updates", type=int, default=2000, help="updates per run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg-admin-dsn", default=PG_ADMIN_DSN)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    machine = describe_machine(args.pg_admin_dsn if "postgres" in args.db else None)
    print_machine(machine)
    results: dict[str, dict[int, list[float]]] = {}
    with work_directory(args.workdir) as workdir:
        for db in args.db:
            results[db] = measure(
                db,
                connections=args.connections,
                updates=args.updates,
                repeat=args.repeat,
                workdir=workdir,
                pg_admin_dsn=args.pg_admin_dsn,
            )
    print()
    print(table(results))
    write_json(
        args.json,
        {
            "machine": machine,
            "raw": {db: {str(c): r for c, r in by.items()} for db, by in results.items()},
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
