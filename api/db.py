"""The database: engine, sessions, and SQLite's transaction control.

SQLite (DESIGN §7): WAL, a busy timeout, and every write transaction opened with
`BEGIN IMMEDIATE`, because a deferred `BEGIN` that later writes fails with "database is
locked" under concurrent writers (86 % with 8 writers, measured) whatever the timeout.
This follows SQLAlchemy's documented recipe for pysqlite/aiosqlite: the driver's own
implicit BEGIN is switched off (`isolation_level = None`) and a `begin` event hook emits
ours. Sessions from `Database.writer` carry the `wh_write` execution option and begin
IMMEDIATE (taking the write lock up front); readers begin deferred and never wait for it.

PostgreSQL needs none of that: writers lock the rows they decide on (`SELECT … FOR
UPDATE`), see `api/orders/service.py`.

The schema is built and changed only by the Alembic migrations in `api/migrations/`
(`api.migrate`: run by the API as it starts, under a lock, and by `warehouse migrate`);
a change to the models needs a new revision (api/migrations/README.md says how).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

WRITE_OPTION = "wh_write"


# Every constraint gets a name, so that a migration can drop or alter it later (SQLite's
# batch mode needs the name); the patterns are PostgreSQL's own defaults, so a PostgreSQL
# database made by `create_all` before the migrations existed has the very same names.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def _install_sqlite_hooks(engine: AsyncEngine, busy_timeout_s: float) -> None:
    busy_ms = int(busy_timeout_s * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Stop the driver from emitting its own (deferred) BEGIN; `_on_begin` emits ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, safe
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def create_engine(url: str, *, busy_timeout_s: float = 30.0, echo: bool = False) -> AsyncEngine:
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        # The driver's own wait for a lock, in seconds (the PRAGMA above sets the same).
        kwargs["connect_args"] = {"timeout": busy_timeout_s}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(engine):
        _install_sqlite_hooks(engine, busy_timeout_s)
    return engine


@dataclass(frozen=True)
class Database:
    """The engine and the two kinds of session made from it."""

    engine: AsyncEngine
    reader: async_sessionmaker[AsyncSession]
    writer: async_sessionmaker[AsyncSession]

    @classmethod
    def connect(cls, url: str, *, busy_timeout_s: float = 30.0, echo: bool = False) -> Database:
        engine = create_engine(url, busy_timeout_s=busy_timeout_s, echo=echo)
        write_engine = engine.execution_options(**{WRITE_OPTION: True})
        return cls(
            engine=engine,
            reader=async_sessionmaker(engine, expire_on_commit=False),
            writer=async_sessionmaker(write_engine, expire_on_commit=False),
        )

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
