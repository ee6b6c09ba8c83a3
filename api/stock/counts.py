"""`POST /stock/adjustments`: a count sets each bin's on hand to what was found, with a
ledger row `adjustment` of the difference (reference: the adjustment id).

A count that leaves a bin holding less than is reserved from it is a shortage, resolved in
the same transaction, never left standing:
1. reservations of the bin are cut (released) until what stays reserved fits what is on
   hand, weakest first (controller/domain/shortage.py): orders stopping (cancel requested,
   exception), then orders their site does not hold yet, then held ones; within each the
   lowest priority, the latest ship-by, the newest order;
2. each held order that was cut is covered again from the SKU's other bins at the site
   (most urgent first, by the removal strategy), all of it or nothing;
3. what is free then goes to the orders waiting for the SKU, the cut ones among them
   (api/stock/backorders.py), as after a receipt; so does what a count finds in excess;
4. the orders are settled (api/stock/settle.py): a held order not covered again goes to
   `exception` (`stock_shortage`); a `stock.shortage` webhook event per short bin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import InvalidRequest
from api.models import BinRow, LedgerRow, OrderLineRow, ReservationRow
from api.stock.availability import SkuStock
from api.stock.backorders import fill_backorders, reallocate
from api.stock.bins import existing_bins, lock_named_bins
from api.stock.documents import ADJUSTMENT, DocumentOutcome, claim, digest, store_answer
from api.stock.orderbook import CutRecord, LineState, OrderBook, OrderState
from api.stock.schemas import (
    AdjustmentLineOut,
    AdjustmentRequest,
    AdjustmentResponse,
    ShortageOut,
)
from api.stock.settle import settle
from api.stock.signals import Shortage, StockSignals, announce_low_stock, low_stock_crossings
from api.stock.validation import bin_errors, by_line, duplicate_bin_errors, known_site
from api.webhooks import enqueue_webhook_event
from controller.domain.layout import Site
from controller.domain.shortage import Hold, Standing, cuts_for


async def apply_adjustment(
    session: AsyncSession,
    request: AdjustmentRequest,
    *,
    sites: Mapping[str, Site],
    distances: Mapping[str, Mapping[str, float]],
    now: datetime,
) -> DocumentOutcome:
    stored = await claim(session, ADJUSTMENT, request.adjustment_id, digest(request), now)
    if stored is not None:
        return DocumentOutcome(200, stored)
    site = known_site(request.site, sites)
    codes = [line.bin for line in request.lines]
    errors = duplicate_bin_errors(codes)
    errors += bin_errors(site, codes, await existing_bins(session, site.site, codes))
    if errors:
        raise InvalidRequest(by_line(errors))
    stock, bins = await lock_named_bins(session, site.site, codes)
    today = now.date()
    distances_here = distances.get(site.site, {})
    before = {pair: entry.total_available(today) for pair, entry in stock.items()}
    lines = [_count(session, request, i, bins, stock, now) for i in range(len(request.lines))]

    book = OrderBook(session, now)
    short = await _cut_short_bins(book, stock, [bins[code] for code in codes])
    held = [s for s in book.orders.values() if s.cuts and s.standing is Standing.HELD]
    for state in sorted(held, key=lambda s: s.urgency.rank()):
        wants = [(line, line.short) for line in state.lines]
        reallocate(
            book, state, wants, stock, site, today=today, distances=distances_here, whole=True
        )
    skus = {row.sku for row in bins.values()}
    await fill_backorders(book, stock, site, skus, today=today, distances=distances_here)
    document = f"adjustment {request.adjustment_id}"
    settled = await settle(book, site, document=document, now=now)

    shortages = [_shortage(site.site, row, excess, book) for row, excess in short]
    for shortage in shortages:
        await enqueue_webhook_event(
            session,
            "stock.shortage",
            {**asdict(shortage), "adjustment_id": request.adjustment_id},
            occurred_at=now,
        )
    low = low_stock_crossings(stock, before, today, {site.site: site})
    await announce_low_stock(session, low, now)

    body = AdjustmentResponse(
        adjustment_id=request.adjustment_id,
        site=site.site,
        recorded_at=now,
        lines=lines,
        shortages=[
            ShortageOut(
                bin=s.bin,
                sku=s.sku,
                short_qty=s.short_qty,
                reallocated_qty=s.reallocated_qty,
                orders=list(s.orders),
            )
            for s in shortages
        ],
        orders=settled.changes,
    ).model_dump(mode="json")
    await store_answer(session, ADJUSTMENT, request.adjustment_id, body)
    return DocumentOutcome(201, body, StockSignals(low=low, shortages=shortages), settled.entered)


def _count(
    session: AsyncSession,
    request: AdjustmentRequest,
    i: int,
    bins: Mapping[str, BinRow],
    stock: Mapping[tuple[str, str], SkuStock],
    now: datetime,
) -> AdjustmentLineOut:
    line = request.lines[i]
    row = bins[line.bin]
    previous = row.on_hand
    delta = line.counted_qty - previous
    if delta:
        row.on_hand = line.counted_qty
        stock[(row.site, row.sku)].take(row.bin, -delta)
        session.add(
            LedgerRow(
                site=row.site,
                bin_id=row.id,
                sku=row.sku,
                lot=row.lot,
                qty_delta=delta,
                reason="adjustment",
                reference=request.adjustment_id,
                occurred_at=now,
                recorded_at=now,
            )
        )
    return AdjustmentLineOut(
        bin=row.bin,
        tote_id=row.tote_id,
        sku=row.sku,
        lot=row.lot,
        previous_qty=previous,
        counted_qty=line.counted_qty,
        delta=delta,
        reason=line.reason,
    )


async def _cut_short_bins(
    book: OrderBook, stock: Mapping[tuple[str, str], SkuStock], counted: list[BinRow]
) -> list[tuple[BinRow, int]]:
    """Cut the reservations of every counted bin holding less than is reserved from it;
    each such bin with the units it was short."""
    maybe_short = [row for row in counted if stock[(row.site, row.sku)].available[row.bin] < 0]
    if not maybe_short:
        return []
    # The orders are locked before their reservations are read (a cancel may be releasing
    # some of them right now, holding only the order).
    holders = await book.session.scalars(
        select(OrderLineRow.order_pk)
        .join(ReservationRow, ReservationRow.line_pk == OrderLineRow.id)
        .where(
            ReservationRow.bin_id.in_([row.id for row in maybe_short]),
            ReservationRow.qty > ReservationRow.picked_qty + ReservationRow.released_qty,
        )
        .distinct()
    )
    await book.lock(holders.all())
    short = []
    for row in maybe_short:
        owners: dict[int, tuple[OrderState, LineState, ReservationRow]] = {}
        holds = []
        for state in book.orders.values():
            for line in state.lines:
                for r in line.reservations:
                    open_qty = r.qty - r.picked_qty - r.released_qty
                    if r.bin_id == row.id and open_qty > 0:
                        owners[r.id] = (state, line, r)
                        holds.append(Hold(r.id, open_qty, state.standing, state.urgency))
        entry = stock[(row.site, row.sku)]
        entry.available[row.bin] = row.on_hand - sum(h.open_qty for h in holds)  # as locked
        excess = -entry.available[row.bin]
        for cut in cuts_for(excess, holds):
            state, line, r = owners[cut.reservation]
            r.released_qty += cut.qty
            entry.take(row.bin, -cut.qty)
            state.cuts.append(CutRecord(line.row.line_id, row.sku, row.bin, cut.qty))
        if excess > 0:
            short.append((row, excess))
    return short


def _shortage(site: str, row: BinRow, excess: int, book: OrderBook) -> Shortage:
    """The signal of one short bin. Of what its cut lines lost (in any bin), what they got
    back counts as re-allocated, credited to their cuts in the order they were made."""
    reallocated = 0
    orders: list[str] = []
    for state in book.orders.values():
        regained = dict(state.added)
        for cut in state.cuts:
            back = min(cut.qty, regained.get(cut.line_id, 0))
            regained[cut.line_id] = regained.get(cut.line_id, 0) - back
            if cut.bin == row.bin:
                reallocated += back
                if state.row.order_id not in orders:
                    orders.append(state.row.order_id)
    return Shortage(site, row.sku, row.bin, excess, reallocated, tuple(sorted(orders)))
