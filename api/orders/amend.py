"""An amendment: a push with a higher `version` replaces the order's lines while nothing of it
is picked. The old lines are retired with their reservations released; the new ones are
allocated as a new order's would be. An order the site already holds is only amended if the
new lines can be reserved in full, and the site is sent the new revision (it applies it if it
has not started on the order; else it reports an exception, docs/protocols.md)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import AmendmentRefused, NotFound
from api.models import OrderLineRow, OrderRow, ReservationRow
from api.orders.batch import Push, Submission
from api.orders.existing import KnownOrder, answer_existing
from api.orders.queries import load_order, to_response
from api.orders.release import released_payload
from api.orders.schemas import header_columns
from api.orders.timeline import record
from api.sites.feed import ORDER_RELEASED, append_work_item
from api.stock.availability import allocate_at, lock_bins
from api.stock.signals import StockSignals, announce_low_stock, low_stock_crossings
from controller.domain.orders import (
    LineReservation,
    OrderStatus,
    advance,
    reservation_status,
)
from controller.domain.stock import LineRequest

AMENDABLE = frozenset(
    {
        OrderStatus.RECEIVED,
        OrderStatus.RESERVED,
        OrderStatus.PARTIALLY_RESERVED,
        OrderStatus.BACKORDERED,
    }
)


async def amend_order(
    session: AsyncSession,
    push: Push,
    *,
    now: datetime,
    today: date,
    distances: Mapping[str, Mapping[str, float]],
) -> tuple[Submission, StockSignals]:
    request = push.request
    order = await session.scalar(
        select(OrderRow)
        .where(OrderRow.order_id == request.order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise NotFound("order", request.order_id)
    status = OrderStatus(order.status)
    known = KnownOrder(order.id, order.order_id, order.request_hash, order.version, status)
    decision = answer_existing(known, request, push.digest)
    if decision == "same":
        return await _answer(session, order.id), StockSignals()
    if decision != "amend":
        raise decision
    if status not in AMENDABLE:
        raise AmendmentRefused(order.order_id, f"it is {status.value}")
    site = next((s for s in push.sites if s.site == order.site), None)
    if site is None:
        raise AmendmentRefused(
            order.order_id, f"it is being filled at site {order.site!r}, which cannot take it"
        )
    old_lines = list(
        (
            await session.scalars(
                select(OrderLineRow).where(
                    OrderLineRow.order_pk == order.id, OrderLineRow.active.is_(True)
                )
            )
        ).all()
    )
    picked = await session.scalar(
        select(func.coalesce(func.sum(ReservationRow.picked_qty), 0)).where(
            ReservationRow.line_pk.in_([line.id for line in old_lines])
        )
    )
    if picked:
        raise AmendmentRefused(order.order_id, f"{picked} units of it are already picked")

    skus = {line.sku for line in old_lines} | {line.sku for line in request.lines}
    stock = await lock_bins(session, {(site.site, sku) for sku in skus})
    before = {pair: entry.total_available(today) for pair, entry in stock.items()}
    bin_codes = {row.id: (row.sku, row.bin) for e in stock.values() for row in e.bins.values()}
    old = list(
        (
            await session.scalars(
                select(ReservationRow)
                .where(ReservationRow.line_pk.in_([line.id for line in old_lines]))
                .execution_options(populate_existing=True)
            )
        ).all()
    )
    for r in old:  # their stock is free again for the new lines
        sku, code = bin_codes[r.bin_id]
        stock[(site.site, sku)].take(code, -(r.qty - r.picked_qty - r.released_qty))
        r.released_qty = r.qty - r.picked_qty
    await session.execute(
        update(OrderLineRow)
        .where(OrderLineRow.id.in_([line.id for line in old_lines]))
        .values(active=False)
        .execution_options(synchronize_session=False)
    )

    wanted = [LineRequest(x.line_id, x.sku, x.qty) for x in request.lines]
    allocations = allocate_at(site, wanted, stock, today, distances.get(site.site, {}))
    new_status = reservation_status(
        LineReservation(x.qty, allocations[x.line_id].reserved_qty) for x in wanted
    )
    if order.released and new_status is not OrderStatus.RESERVED:
        raise AmendmentRefused(
            order.order_id,
            "the site already holds it, and the amended lines cannot be reserved in full "
            f"({_short(wanted, allocations)}); cancel it and push a new order instead",
        )
    bins = {code: row for e in stock.values() for code, row in e.bins.items()}
    for i, x in enumerate(request.lines):
        line = OrderLineRow(
            order_pk=order.id,
            version=request.version,
            active=True,
            position=i,
            line_id=x.line_id,
            sku=x.sku,
            qty=x.qty,
            shipped_qty=0,
        )
        session.add(line)
        await session.flush()
        for a in allocations[x.line_id].allocations:
            stock[(site.site, x.sku)].take(a.bin, a.qty)
            session.add(
                ReservationRow(
                    line_pk=line.id,
                    bin_id=bins[a.bin].id,
                    qty=a.qty,
                    picked_qty=0,
                    released_qty=0,
                    put_back_qty=0,
                    put_back_requested_qty=0,
                    created_at=now,
                )
            )

    for column, value in header_columns(request).items():
        setattr(order, column, value)
    order.request_hash = push.digest
    order.updated_at = now
    if new_status is not status:
        order.status = advance(order.order_id, status, new_status).value
    record(
        session,
        order,
        "order.amended",
        now,
        {
            "version": request.version,
            "status": new_status.value,
            "lines": [
                {
                    "line_id": x.line_id,
                    "qty": x.qty,
                    "reserved_qty": allocations[x.line_id].reserved_qty,
                }
                for x in wanted
            ],
        },
    )
    if new_status is OrderStatus.RESERVED:
        order.revision += 1
        order.released = True
        seq = await append_work_item(
            session,
            site=site.site,
            type=ORDER_RELEASED,
            order_pk=order.id,
            payload=released_payload(request, allocations, bins, site, revision=order.revision),
            now=now,
        )
        record(session, order, ORDER_RELEASED, now, {"site": site.site, "seq": seq})
    signals = StockSignals(low=low_stock_crossings(stock, before, today, {site.site: site}))
    await announce_low_stock(session, signals.low, now)
    answer = await _answer(session, order.id)
    return Submission(200, answer.order, (new_status,) if new_status is not status else ()), signals


def _short(wanted: list[LineRequest], allocations: Mapping[str, Any]) -> str:
    return ", ".join(
        f"line {x.line_id!r}: {allocations[x.line_id].reserved_qty} of {x.qty}"
        for x in wanted
        if allocations[x.line_id].short_qty
    )


async def _answer(session: AsyncSession, order_pk: int) -> Submission:
    await session.flush()
    order = await load_order(session, pk=order_pk)
    assert order is not None  # locked by this transaction
    return Submission(200, to_response(order))
