"""Schema migrations: bring a database to the models' revision, one process at a time.

The revisions live in `api/migrations/` (shipped with the package). The API starts inside
`migrated()`: the upgrade runs under `schema_lock`, so that any number of processes
(`uvicorn --workers N`, several hosts) may start at once on a fresh database: the first
builds the schema (and seeds), the others wait for the lock and find it done.
`warehouse migrate` runs the same from the command line; `upgrade()` is the entry point
for code.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, func, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.db import WRITE_OPTION, Base, create_engine

log = logging.getLogger(__name__)

SCRIPT_LOCATION = Path(__file__).with_name("migrations")
# The key of the PostgreSQL advisory lock every process takes around the upgrade (and the
# seeding): any constant no other code in the database uses; these are the bytes "wh_mig".
MIGRATION_LOCK_KEY = 0x77685F6D6967
# A table the very first schema has: an unversioned database holding it was built by
# `create_all` before the migrations existed (see `_adopt_unversioned`).
LEGACY_MARKER_TABLE = "sites"


def metadata() -> MetaData:
    """Every table the models declare (importing the model modules registers them)."""
    from api import models  # noqa: F401
    from api.webhooks import models as webhook_models  # noqa: F401

    return Base.metadata


def alembic_config() -> Config:
    """Alembic's configuration without an ini file; env.py gets the connection from
    `config.attributes["connection"]`."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return config


@lru_cache(maxsize=1)
def _script() -> ScriptDirectory:
    # Parsing the revision files once per process keeps a start on a built database cheap.
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _script().get_current_head()
    if head is None:
        raise RuntimeError(f"no revisions in {SCRIPT_LOCATION / 'versions'}")
    return head


def base_revision() -> str:
    base = _script().get_base()
    if base is None:
        raise RuntimeError(f"no single base revision in {SCRIPT_LOCATION / 'versions'}")
    return base


def current_revisions(conn: Connection) -> set[str]:
    return set(MigrationContext.configure(conn).get_current_heads())


@asynccontextmanager
async def schema_lock(
    engine: AsyncEngine, *, altering: bool = True
) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction that no other process's `schema_lock` overlaps.

    PostgreSQL: a session-level advisory lock on this connection, taken before the
    transaction and released after it. SQLite: the transaction begins IMMEDIATE, taking
    the database's write lock up front; a second process waits (the busy timeout) and
    then finds the schema built, since SQLite's DDL is transactional too. `altering`
    (SQLite): the transaction may rebuild tables, see `_sqlite_schema_transaction`.
    """
    if engine.dialect.name == "sqlite":
        async with _sqlite_schema_transaction(engine, altering=altering) as conn:
            yield conn
        return
    if engine.dialect.name != "postgresql":
        raise NotImplementedError(f"no schema lock for {engine.dialect.name}")
    async with engine.connect() as conn:
        await conn.execute(select(func.pg_advisory_lock(MIGRATION_LOCK_KEY)))
        await conn.commit()
        try:
            async with conn.begin():
                yield conn
        except BaseException:
            # Closing the session releases its locks whatever state the connection is in;
            # the pool must never hand it out still holding the lock.
            await conn.invalidate()
            raise
        await conn.execute(select(func.pg_advisory_unlock(MIGRATION_LOCK_KEY)))
        await conn.commit()


@asynccontextmanager
async def _sqlite_schema_transaction(
    engine: AsyncEngine, *, altering: bool
) -> AsyncIterator[AsyncConnection]:
    # SQLite alters a table by copying it and dropping the old one (Alembic's batch mode),
    # and the drop fails while other tables' rows reference it. SQLite's own recipe: foreign
    # keys off around the transaction (the pragma is a no-op inside one), then
    # `foreign_key_check` before the commit, here only if the schema did change. Without
    # `altering` they stay on (a start on a database already at head).
    async with engine.connect() as conn:
        if altering:
            await conn.run_sync(_sqlite_pragma, "foreign_keys=OFF")
        try:
            await conn.execution_options(**{WRITE_OPTION: True})  # BEGIN IMMEDIATE
            async with conn.begin():
                before = await conn.scalar(text("PRAGMA schema_version"))
                yield conn
                if altering and await conn.scalar(text("PRAGMA schema_version")) != before:
                    broken = (await conn.execute(text("PRAGMA foreign_key_check"))).all()
                    if broken:
                        raise ForeignKeysBroken([tuple(row) for row in broken])
        except BaseException:
            await conn.invalidate()  # never back to the pool with foreign keys off
            raise
        if altering:
            await conn.run_sync(_sqlite_pragma, "foreign_keys=ON")


def _sqlite_pragma(conn: Connection, pragma: str) -> None:
    # On the driver's connection: through SQLAlchemy, the statement would begin a
    # transaction first (api/db.py's `begin` hook), where this pragma does nothing.
    dbapi_connection = conn.connection.dbapi_connection
    assert dbapi_connection is not None  # a checked-out connection always has one
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA {pragma}")
    finally:
        cursor.close()


class ForeignKeysBroken(RuntimeError):
    """A migration left rows whose foreign keys point nowhere (SQLite's
    `foreign_key_check`: table, rowid, parent table, key index)."""

    def __init__(self, violations: list[tuple[object, ...]]) -> None:
        super().__init__(f"foreign keys broken by the migration: {violations[:10]}")
        self.violations = violations


def _adopt_unversioned(conn: Connection) -> None:
    """Stamp a database built by `create_all` (no `alembic_version`) as the first revision,
    whose schema is what `create_all` built, so that upgrading continues from there."""
    if current_revisions(conn) or not inspect(conn).has_table(LEGACY_MARKER_TABLE):
        return
    base = base_revision()
    log.warning("database has tables but no alembic_version: stamping it as %s", base)
    config = alembic_config()
    config.attributes["connection"] = conn
    command.stamp(config, base)


def _upgrade(conn: Connection, revision: str) -> bool:
    if revision == "head" and current_revisions(conn) == {head_revision()}:
        return False  # already there: skip running env.py and the revision scripts
    _adopt_unversioned(conn)
    config = alembic_config()
    config.attributes["connection"] = conn
    command.upgrade(config, revision)
    return True


async def upgrade_connection(conn: AsyncConnection, revision: str = "head") -> bool:
    """Upgrade in `conn`'s transaction (hold `schema_lock`); False if already at head."""
    upgraded: bool = await conn.run_sync(_upgrade, revision)
    return upgraded


async def at_head(engine: AsyncEngine) -> bool:
    """Whether the database is at the newest revision (a read, without the lock)."""
    async with engine.connect() as conn:
        return await conn.run_sync(current_revisions) == {head_revision()}


@asynccontextmanager
async def migrated(
    engine: AsyncEngine, revision: str = "head"
) -> AsyncIterator[tuple[AsyncConnection, bool]]:
    """Upgrade to `revision` under `schema_lock`, then stay in its transaction for what
    must also happen once (the API seeds its sites): the connection, and whether this
    process upgraded."""
    # Looked at before the lock, so that a start on a database at head keeps SQLite's
    # foreign keys on; stale only if another process upgrades meanwhile, which is harmless.
    altering = revision != "head" or not await at_head(engine)
    async with schema_lock(engine, altering=altering) as conn:
        yield conn, await upgrade_connection(conn, revision)


async def upgrade(database_url: str, revision: str = "head") -> str:
    """Upgrade the database at `database_url` to `revision`, holding the lock a starting
    API takes; the revision it is at afterwards."""
    engine = create_engine(database_url)
    try:
        async with migrated(engine, revision) as (conn, upgraded):
            if upgraded:
                log.info("database upgraded to %s", revision)
            after: set[str] = await conn.run_sync(current_revisions)
    finally:
        await engine.dispose()
    return ",".join(sorted(after))


def _downgrade(conn: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = conn
    command.downgrade(config, revision)


async def downgrade(database_url: str, revision: str) -> str:
    """Downgrade the database at `database_url` to `revision` (`base`: nothing left)."""
    engine = create_engine(database_url)
    try:
        async with schema_lock(engine) as conn:
            await conn.run_sync(_downgrade, revision)
            after: set[str] = await conn.run_sync(current_revisions)
    finally:
        await engine.dispose()
    return ",".join(sorted(after))
