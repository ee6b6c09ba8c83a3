"""Stock of a SKU: on hand per bin, reserved derived from the open reservations."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import BinRow, ReservationRow, SkuRow
from api.stock.schemas import StockLocation, StockResponse

OPEN_QTY = ReservationRow.qty - ReservationRow.picked_qty - ReservationRow.released_qty


async def stock_of(session: AsyncSession, sku: str) -> StockResponse | None:
    item = await session.get(SkuRow, sku)
    if item is None:
        return None
    reserved = (
        select(ReservationRow.bin_id, func.sum(OPEN_QTY).label("reserved"))
        .where(ReservationRow.bin_id.in_(select(BinRow.id).where(BinRow.sku == sku)))
        .group_by(ReservationRow.bin_id)
        .subquery()
    )
    rows = (
        await session.execute(
            select(BinRow, func.coalesce(reserved.c.reserved, 0))
            .outerjoin(reserved, reserved.c.bin_id == BinRow.id)
            .where(BinRow.sku == sku)
            .order_by(BinRow.id)
        )
    ).all()
    locations = [
        StockLocation(
            site=b.site,
            bin=b.bin,
            tote_id=b.tote_id,
            on_hand=b.on_hand,
            reserved=int(held),
            available=max(0, b.on_hand - int(held)),
        )
        for b, held in rows
    ]
    return StockResponse(
        sku=item.sku,
        gtin=item.gtin,
        name=item.name,
        on_hand=sum(loc.on_hand for loc in locations),
        reserved=sum(loc.reserved for loc in locations),
        available=sum(loc.available for loc in locations),
        locations=locations,
    )
