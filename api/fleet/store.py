"""The newest snapshot per AGV: one conditional upsert, so that concurrent pushes and late
ones can never replace a newer snapshot with an older one (no read-then-write)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from api.fleet.schemas import AgvStatus
from api.models import AgvStatusRow


async def store_newest(
    session: AsyncSession, site: str, snapshots: Sequence[AgvStatus], now: datetime
) -> list[AgvStatus]:
    """Store each snapshot that is newer than the one held; those stored."""
    newest: dict[str, AgvStatus] = {}
    for snap in snapshots:  # one row may be written once per statement: the newest wins
        held = newest.get(snap.serial_number)
        if held is None or snap.observed_at > held.observed_at:
            newest[snap.serial_number] = snap
    if not newest:
        return []
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(AgvStatusRow).values(
        [
            {
                "site": site,
                "serial_number": snap.serial_number,
                "observed_at": snap.observed_at,
                "reported_at": now,
                "status": snap.model_dump(mode="json"),
            }
            for snap in newest.values()
        ]
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[AgvStatusRow.site, AgvStatusRow.serial_number],
        set_={
            "observed_at": statement.excluded.observed_at,
            "reported_at": statement.excluded.reported_at,
            "status": statement.excluded.status,
        },
        where=statement.excluded.observed_at > AgvStatusRow.observed_at,
    ).returning(AgvStatusRow.serial_number)
    stored = set((await session.scalars(upsert)).all())
    return [snap for serial, snap in newest.items() if serial in stored]


async def fleet_of(session: AsyncSession, site: str) -> dict[str, AgvStatusRow]:
    rows = await session.scalars(select(AgvStatusRow).where(AgvStatusRow.site == site))
    return {row.serial_number: row for row in rows}
