"""The stock invariants, checked straight on the database after every API test.

Per bin: the open reservations never exceed what is on hand, and on hand equals the sum of
the bin's ledger rows. Per reservation: picked + released within qty, put back within
picked (the schema's CHECKs, asserted again in case a migration loses one). Reserved is
derived, so "derived equals records" holds by construction: it is read from the records.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import OPEN_PREDICATE, BinRow, LedgerRow, ReservationRow

OPEN_QTY = ReservationRow.qty - ReservationRow.picked_qty - ReservationRow.released_qty


async def stock_invariant_violations(session: AsyncSession) -> list[str]:
    problems: list[str] = []
    held = dict(
        (
            await session.execute(
                select(ReservationRow.bin_id, func.sum(OPEN_QTY))
                .where(text(OPEN_PREDICATE))
                .group_by(ReservationRow.bin_id)
            )
        ).all()
    )
    ledger = dict(
        (
            await session.execute(
                select(LedgerRow.bin_id, func.sum(LedgerRow.qty_delta))
                .where(LedgerRow.bin_id.is_not(None))
                .group_by(LedgerRow.bin_id)
            )
        ).all()
    )
    for b in (await session.scalars(select(BinRow).order_by(BinRow.id))).all():
        reserved = int(held.get(b.id, 0))
        if reserved > b.on_hand:
            problems.append(f"{b.site}/{b.bin}: {reserved} reserved > {b.on_hand} on hand")
        if int(ledger.get(b.id, 0)) != b.on_hand:
            problems.append(
                f"{b.site}/{b.bin}: ledger says {ledger.get(b.id, 0)}, on hand {b.on_hand}"
            )
    bad = (
        await session.scalars(
            select(ReservationRow).where(
                (ReservationRow.picked_qty + ReservationRow.released_qty > ReservationRow.qty)
                | (ReservationRow.put_back_qty > ReservationRow.picked_qty)
            )
        )
    ).all()
    problems.extend(f"reservation #{r.id} consumed beyond its qty" for r in bad)
    return problems
