"""Stock that arrives (a receipt, a count that finds more) goes to the orders waiting for
it: at the site, lines of orders not yet released (partially reserved or backordered) that
want the SKU, served one order at a time by priority (highest first), then `ship_by`
(earliest first, none last), then age, each from the bins the SKU's removal strategy picks.

The caller holds the bins of every (site, SKU) given (`lock_bins`, one call) and settles
the orders afterwards (api/stock/settle.py): statuses, release to the site, events.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import OrderLineRow, OrderRow, ReservationRow
from api.stock.availability import SkuStock, allocate_at
from api.stock.orderbook import LineState, OrderBook, OrderState
from controller.domain.layout import Site
from controller.domain.shortage import WAITING_STATUSES, Standing
from controller.domain.stock import LineRequest


async def fill_backorders(
    book: OrderBook,
    stock: Mapping[tuple[str, str], SkuStock],
    site: Site,
    skus: Collection[str],
    *,
    today: date,
    distances: Mapping[str, float],
) -> None:
    if not skus:
        return
    await book.lock(await _waiting_orders(book.session, site.site, skus), skip_locked=True)
    waiting = sorted(
        (
            state
            for state in book.orders.values()
            if state.standing is Standing.WAITING and state.status in WAITING_STATUSES
        ),
        key=lambda state: state.urgency.rank(),
    )
    for state in waiting:
        wants = [(line, line.short) for line in state.lines if line.row.sku in skus]
        reallocate(book, state, wants, stock, site, today=today, distances=distances)


async def _waiting_orders(session: AsyncSession, site: str, skus: Collection[str]) -> list[int]:
    held = (
        select(func.coalesce(func.sum(ReservationRow.qty - ReservationRow.released_qty), 0))
        .where(ReservationRow.line_pk == OrderLineRow.id)
        .scalar_subquery()
    )
    rows = await session.scalars(
        select(OrderRow.id)
        .join(OrderLineRow, OrderLineRow.order_pk == OrderRow.id)
        .where(
            OrderRow.site == site,
            OrderRow.released.is_(False),
            OrderRow.status.in_(sorted(s.value for s in WAITING_STATUSES)),
            OrderLineRow.active.is_(True),
            OrderLineRow.sku.in_(sorted(skus)),
            OrderLineRow.qty > held,
        )
        .distinct()
    )
    return list(rows.all())


def reallocate(
    book: OrderBook,
    order: OrderState,
    wants: Sequence[tuple[LineState, int]],
    stock: Mapping[tuple[str, str], SkuStock],
    site: Site,
    *,
    today: date,
    distances: Mapping[str, float],
    whole: bool = False,
) -> int:
    """Reserve up to the wanted quantity of each of the order's lines; with `whole`, all of
    it for every line or nothing. The units reserved."""
    wanted = [(line, qty) for line, qty in wants if qty > 0]
    if not wanted:
        return 0
    requests = [LineRequest(line.row.line_id, line.row.sku, qty) for line, qty in wanted]
    allocations = allocate_at(site, requests, stock, today, distances)
    if whole and any(a.short_qty for a in allocations.values()):
        return 0
    reserved = 0
    for line, _ in wanted:
        entry = stock[(site.site, line.row.sku)]
        for a in allocations[line.row.line_id].allocations:
            entry.take(a.bin, a.qty)
            book.reserve(order, line, entry.bins[a.bin], a.qty)
            reserved += a.qty
    return reserved
