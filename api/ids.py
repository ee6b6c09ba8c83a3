"""Primary keys for many new rows at once, so that a multi-row insert needs no RETURNING.

SQLAlchemy falls back to one statement per row when it must return generated keys in
parameter order on SQLite, which costs a round trip per row. Taking the keys first keeps
a batch's insert one statement:
- SQLite: the caller holds the database's write lock (BEGIN IMMEDIATE), so the ids after
  the current maximum are free until it commits.
- PostgreSQL: the column's own sequence hands them out, safe under any concurrency.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession


async def next_ids(session: AsyncSession, wanted: Sequence[tuple[Table, int]]) -> list[list[int]]:
    """For each (table, count), that many new ids; all in one round trip."""
    if session.get_bind().dialect.name == "postgresql":
        parts = ", ".join(
            f"(SELECT coalesce(array_agg(nextval(pg_get_serial_sequence('{table.name}', 'id'))),"
            f" '{{}}') FROM generate_series(1, :n{i}))"
            for i, (table, _) in enumerate(wanted)
        )
        row = (
            await session.execute(
                text(f"SELECT {parts}"), {f"n{i}": count for i, (_, count) in enumerate(wanted)}
            )
        ).one()
        return [[int(v) for v in values] for values in row]
    row = (
        await session.execute(
            select(
                *(select(func.coalesce(func.max(t.c.id), 0)).scalar_subquery() for t, _ in wanted)
            )
        )
    ).one()
    return [
        list(range(int(last) + 1, int(last) + 1 + count))
        for last, (_, count) in zip(row, wanted, strict=True)
    ]
