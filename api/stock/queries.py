"""Stock of a SKU: on hand per bin, reserved derived from the open reservations, per-site
figures (what waiting orders want, what can still be promised), and its ledger."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import FieldError, InvalidRequest
from api.models import BinRow, LedgerRow, OrderLineRow, OrderRow, ReservationRow, SkuRow
from api.stock.schemas import LedgerEntry, LedgerPage, SiteStock, StockLocation, StockResponse
from controller.domain.layout import Site
from controller.domain.shortage import WAITING_STATUSES
from controller.domain.stock import is_expired

OPEN_QTY = ReservationRow.qty - ReservationRow.picked_qty - ReservationRow.released_qty
DEFAULT_LEDGER_PAGE = 100
MAX_LEDGER_PAGE = 500
MAX_PK = 2**31 - 1


async def stock_of(
    session: AsyncSession, sku: str, *, sites: Mapping[str, Site], today: date
) -> StockResponse | None:
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
    expired = {b.bin for b, _ in rows if is_expired(b.expires_on, today)}
    wanted = await _backordered(session, sku)
    site_ids = sorted(
        {loc.site for loc in locations}
        | {s for s, site in sites.items() if site.has_sku(sku)}
        | set(wanted)
    )
    per_site = []
    for site_id in site_ids:
        here = [loc for loc in locations if loc.site == site_id]
        available = sum(loc.available for loc in here if loc.bin not in expired)
        site = sites.get(site_id)
        safety = site.sku(sku).safety_stock if site is not None and site.has_sku(sku) else 0
        per_site.append(
            SiteStock(
                site=site_id,
                on_hand=sum(loc.on_hand for loc in here),
                reserved=sum(loc.reserved for loc in here),
                expired=sum(loc.on_hand for loc in here if loc.bin in expired),
                available=available,
                backordered=wanted.get(site_id, 0),
                available_to_promise=max(0, available - wanted.get(site_id, 0)),
                safety_stock=safety,
                below_safety_stock=available < safety,
            )
        )
    return StockResponse(
        sku=item.sku,
        gtin=item.gtin,
        name=item.name,
        on_hand=sum(loc.on_hand for loc in locations),
        reserved=sum(loc.reserved for loc in locations),
        available=sum(loc.available for loc in locations),
        locations=locations,
        sites=per_site,
    )


async def _backordered(session: AsyncSession, sku: str) -> dict[str, int]:
    """Per site, the units of `sku` that orders waiting for stock want and do not have."""
    held = (
        select(func.coalesce(func.sum(ReservationRow.qty - ReservationRow.released_qty), 0))
        .where(ReservationRow.line_pk == OrderLineRow.id)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(OrderRow.site, func.sum(OrderLineRow.qty - held))
        .join(OrderLineRow, OrderLineRow.order_pk == OrderRow.id)
        .where(
            OrderLineRow.sku == sku,
            OrderLineRow.active.is_(True),
            OrderRow.status.in_(sorted(s.value for s in WAITING_STATUSES)),
        )
        .group_by(OrderRow.site)
    )
    return {site: int(total) for site, total in rows.all() if total}


async def ledger_of(
    session: AsyncSession, sku: str, *, site: str | None, limit: int, cursor: str | None
) -> LedgerPage | None:
    """Oldest first; None for an unknown SKU."""
    if await session.get(SkuRow, sku) is None:
        return None
    stmt = (
        select(LedgerRow, BinRow.bin)
        .outerjoin(BinRow, BinRow.id == LedgerRow.bin_id)
        .where(LedgerRow.sku == sku)
        .order_by(LedgerRow.id)
        .limit(limit + 1)
    )
    if site is not None:
        stmt = stmt.where(LedgerRow.site == site)
    if cursor is not None:
        stmt = stmt.where(LedgerRow.id > _decode_cursor(cursor))
    rows = (await session.execute(stmt)).all()
    items = [
        LedgerEntry(
            site=row.site,
            bin=code,
            sku=row.sku,
            lot=row.lot,
            qty_delta=row.qty_delta,
            reason=row.reason,
            reference=row.reference,
            order_id=row.order_id,
            occurred_at=row.occurred_at,
            recorded_at=row.recorded_at,
        )
        for row, code in rows[:limit]
    ]
    more = len(rows) > limit
    return LedgerPage(
        items=items, next_cursor=_encode_cursor(rows[limit - 1][0].id) if more else None
    )


def _encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"l:{pk}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        pk = int(value)
        if prefix != "l" or not 0 <= pk <= MAX_PK:
            raise ValueError(raw)
        return pk
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest(
            [FieldError("cursor", "not a cursor this API gave out", location="query")]
        ) from None
