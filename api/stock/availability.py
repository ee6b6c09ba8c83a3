"""What is available to reserve, read under the lock that makes a decision on it safe.

Available in a bin = on hand - its open reservations (derived, never stored). A writer
that decides on it must hold the bins still:
- SQLite: write sessions begin `BEGIN IMMEDIATE` (api/db.py), so one writer at a time.
- PostgreSQL: `lock_bins` takes `SELECT … FOR UPDATE` on the bins, always in bin id
  order, so two writers wanting overlapping bins queue instead of deadlocking; the open
  reservations are summed after the lock is held, so they include every reservation
  committed before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import OPEN_PREDICATE, BinRow, ReservationRow
from controller.domain.layout import Site
from controller.domain.stock import (
    BinStock,
    LineAllocation,
    LineRequest,
    RemovalStrategy,
    allocate_lines,
    by_strategy,
    is_expired,
)

OPEN_QTY = ReservationRow.qty - ReservationRow.picked_qty - ReservationRow.released_qty


@dataclass
class SkuStock:
    """One SKU at one site, as locked: its bins and what each has free."""

    site: str
    sku: str
    bins: dict[str, BinRow]  # by bin code
    available: dict[str, int]  # by bin code; can be negative after a count (a shortage)

    def total_available(self, today: date) -> int:
        """Units that may still be promised: sellable bins only, shortages not counted."""
        return sum(
            max(0, self.available[code])
            for code, row in self.bins.items()
            if not is_expired(row.expires_on, today)
        )

    def candidates(
        self, strategy: RemovalStrategy, today: date, distances: Mapping[str, float]
    ) -> list[BinStock]:
        return by_strategy(
            (
                BinStock(
                    code,
                    max(0, self.available[code]),
                    row.received_at,
                    row.expires_on,
                    distances.get(code, 0.0),
                )
                for code, row in self.bins.items()
            ),
            strategy,
            today,
        )

    def take(self, code: str, qty: int) -> None:
        self.available[code] -= qty


async def lock_bins(
    session: AsyncSession, wanted: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], SkuStock]:
    """Lock the bins of each (site, sku) and read what is available in them."""
    pairs = sorted(set(wanted))
    stock: dict[tuple[str, str], SkuStock] = {
        (site, sku): SkuStock(site, sku, {}, {}) for site, sku in pairs
    }
    if not pairs:
        return stock
    by_site: dict[str, list[str]] = {}
    for site, sku in pairs:
        by_site.setdefault(site, []).append(sku)
    condition = or_(
        *(and_(BinRow.site == site, BinRow.sku.in_(skus)) for site, skus in by_site.items())
    )
    rows = (
        await session.scalars(
            select(BinRow)
            .where(condition)
            .order_by(BinRow.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    held = await open_reserved(session, [row.id for row in rows])
    for row in rows:
        entry = stock[(row.site, row.sku)]
        entry.bins[row.bin] = row
        entry.available[row.bin] = row.on_hand - held.get(row.id, 0)
    return stock


async def open_reserved(session: AsyncSession, bin_ids: list[int]) -> dict[int, int]:
    """Per bin id, the sum of its open reservations (bins without any are left out)."""
    if not bin_ids:
        return {}
    rows = await session.execute(
        select(ReservationRow.bin_id, func.sum(OPEN_QTY))
        .where(ReservationRow.bin_id.in_(bin_ids), text(OPEN_PREDICATE))
        .group_by(ReservationRow.bin_id)
    )
    return {bin_id: int(total) for bin_id, total in rows.all()}


def allocate_at(
    site: Site,
    lines: Sequence[LineRequest],
    stock: Mapping[tuple[str, str], SkuStock],
    today: date,
    distances: Mapping[str, float],
) -> dict[str, LineAllocation]:
    """Allocate the lines from one site's locked stock, each SKU by its removal strategy
    (nothing is taken from `stock`: the caller takes what it keeps)."""
    return allocate_lines(
        lines,
        {
            sku: stock[(site.site, sku)].candidates(site.removal_for(sku), today, distances)
            for sku in {line.sku for line in lines}
        },
    )
