"""The bins a stock document names, locked with every other bin of their SKUs at the site
(re-allocation may take from any of them), in one `lock_bins` call.

Which SKU a bin holds is read before the lock, and a receipt into an empty bin may change
it meanwhile; the lock is then taken again with the new SKU added (rare: only a concurrent
receipt into the same empty bin does it)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import BinRow
from api.stock.availability import SkuStock, lock_bins

LOCK_ROUNDS = 3


async def existing_bins(session: AsyncSession, site: str, codes: Collection[str]) -> set[str]:
    """Of `codes`, the bins the site has (bins are never deleted: no lock needed)."""
    rows = await session.scalars(
        select(BinRow.bin).where(BinRow.site == site, BinRow.bin.in_(sorted(set(codes))))
    )
    return set(rows.all())


async def lock_named_bins(
    session: AsyncSession, site: str, codes: Collection[str], skus: Collection[str] = ()
) -> tuple[dict[tuple[str, str], SkuStock], dict[str, BinRow]]:
    """Lock the bins of `skus` and of the SKUs in the bins `codes` (all existing) at `site`;
    what is available in them, and the named bins' rows by code."""
    wanted = set(codes)
    pairs = {(site, sku) for sku in skus}
    for _ in range(LOCK_ROUNDS):
        held = await session.scalars(
            select(BinRow.sku).where(BinRow.site == site, BinRow.bin.in_(sorted(wanted)))
        )
        pairs |= {(site, sku) for sku in held.all()}
        stock = await lock_bins(session, pairs)
        rows = {
            code: row
            for entry in stock.values()
            for code, row in entry.bins.items()
            if code in wanted
        }
        if rows.keys() == wanted:
            return stock, rows
    raise RuntimeError(f"the SKUs of bins {sorted(wanted)} at {site!r} keep changing")
