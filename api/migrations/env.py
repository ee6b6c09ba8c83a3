"""Alembic's environment: how a migration gets its connection and how autogenerate
renders the models.

`api.migrate` hands in a connection already inside the schema lock's transaction
(`config.attributes["connection"]`); the migrations run in that transaction. From the
`alembic` command line the database is `-x url=…`, else `WH_DATABASE_URL` (the API's
setting), and the same lock is taken.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

from api.db import UtcDateTime, create_engine
from api.migrate import metadata, schema_lock

config = context.config


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    # A revision must not import the models (they move on; the revision may not): the type
    # decorator is stored as the column type it wraps.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    # Alembic would write `JSONB(astext_type=Text())` without importing `Text`.
    if type_ == "type" and isinstance(obj, JSONB):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "postgresql.JSONB()"
    return False  # the default rendering


def configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=metadata(),
        # SQLite alters a table by copying it: autogenerate writes `batch_alter_table`.
        render_as_batch=True,
        render_item=render_item,
        compare_type=True,
        **kwargs,
    )


def run_on(connection: Connection) -> None:
    configure(connection=connection)
    with context.begin_transaction():  # a no-op inside the lock's transaction
        context.run_migrations()


def database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return url
    from api.settings import ApiSettings

    return ApiSettings().database_url


async def run_from_command_line(url: str) -> None:
    engine = create_engine(url)
    try:
        async with schema_lock(engine) as conn:
            await conn.run_sync(run_on)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    # `alembic upgrade head --sql`: the SQL, for a DBA to read or run.
    configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()
elif (connection := config.attributes.get("connection")) is not None:
    run_on(connection)
else:
    asyncio.run(run_from_command_line(database_url()))
