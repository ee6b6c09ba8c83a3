"""Primary keys for many new rows at once, so that a multi-row insert needs no RETURNING.

SQLAlchemy falls back to one statement per row when it must return generated keys in
parameter order on SQLite, which costs a round trip per row. Taking the keys first keeps
a batch's insert one statement:
- SQLite: the caller holds the database's write lock (BEGIN IMMEDIATE), so the ids after
  the current maximum are free until it commits.
- PostgreSQL: the column's own sequence hands them out, safe under any concurrency.
"""

from __future__ import annotations

from sqlalchemy import Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession


async def next_ids(session: AsyncSession, table: Table, count: int) -> list[int]:
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = await session.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                "FROM generate_series(1, :count)"
            ),
            {"table": table.name, "count": count},
        )
        return [int(value) for (value,) in rows.all()]
    last = await session.scalar(select(func.coalesce(func.max(table.c.id), 0)))
    start = int(last or 0) + 1
    return list(range(start, start + count))
