"""What a receipt or count did to the orders it touched, made visible: their statuses, a
release (or a new revision) on the site's work feed, timeline entries and ERP webhooks.

- An order its site does not hold gets the status its reservations now give
  (`reservation_status`); once fully reserved it is released to its site, as a new order
  would be (revision + 1, `order.released`).
- An order its site holds that lost stock to a count: when it was covered again from other
  bins, the site is sent the new allocation as the next revision; when it was not, the
  order goes to `exception` with reason `stock_shortage` (its site is not told: someone
  decides, cancelling it for instance).
- An order that is stopping (cancel requested, or in exception) only records the cut.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from api.orders.queries import load_order
from api.orders.release import stored_released_payload
from api.orders.timeline import record
from api.sites.feed import ORDER_RELEASED, append_work_item
from api.stock.orderbook import OrderBook, OrderState
from api.stock.schemas import OrderStockChange
from api.webhooks import enqueue_webhook_event
from controller.domain.layout import Site
from controller.domain.orders import LineReservation, OrderStatus, advance, reservation_status
from controller.domain.shortage import Standing

STOCK_SHORTAGE = "stock_shortage"


@dataclass
class Settled:
    changes: list[OrderStockChange] = field(default_factory=list)
    entered: list[OrderStatus] = field(default_factory=list)  # for the metrics


async def settle(book: OrderBook, site: Site, *, document: str, now: datetime) -> Settled:
    """`document` names the cause on the timeline, e.g. `receipt GR-1`. The most urgent
    order first, so that the site's feed lists releases in the order to work on them."""
    settled = Settled()
    for state in sorted(book.orders.values(), key=lambda s: s.urgency.rank()):
        if state.cuts or state.added:
            settled.changes.append(await _settle_one(book, state, site, document, now, settled))
    return settled


async def _settle_one(
    book: OrderBook, state: OrderState, site: Site, document: str, now: datetime, out: Settled
) -> OrderStockChange:
    session, order = book.session, state.row
    status = state.status
    release = False
    if state.cuts:
        record(
            session,
            order,
            "order.shortage",
            now,
            {"document": document, "cuts": [asdict(c) for c in state.cuts]},
        )
    if state.standing is Standing.HELD and state.cuts:
        if all(line.short == 0 for line in state.lines):
            release = True  # covered again from other bins: the site gets the new revision
        else:
            status = OrderStatus.EXCEPTION
            order.status_reason = STOCK_SHORTAGE
            short = {line.row.line_id: line.short for line in state.lines if line.short}
            record(
                session,
                order,
                "order.exception",
                now,
                {
                    "reason": STOCK_SHORTAGE,
                    "detail": f"{document} left the order short; no other bin covers it",
                    "short": short,
                },
            )
    elif state.standing is Standing.WAITING:
        status = reservation_status(
            LineReservation(line.row.qty, line.reserved) for line in state.lines
        )
        release = status is OrderStatus.RESERVED
        if state.added:
            record(
                session,
                order,
                "order.reallocated",
                now,
                {
                    "document": document,
                    "lines": [
                        {
                            "line_id": line.row.line_id,
                            "qty": line.row.qty,
                            "reserved_qty": line.reserved,
                            "added_qty": state.added.get(line.row.line_id, 0),
                        }
                        for line in state.lines
                    ],
                },
            )
    if status is not state.status:
        order.status = advance(order.order_id, state.status, status).value
        out.entered.append(status)
        await enqueue_webhook_event(
            session,
            "order.status_changed",
            {"order_id": order.order_id, "status": status.value, "site": order.site},
            occurred_at=now,
        )
    if state.standing is Standing.WAITING and state.reserved < state.reserved_before:
        await enqueue_webhook_event(
            session,
            "order.backordered",
            {
                "order_id": order.order_id,
                "status": status.value,
                "site": order.site,
                "backordered_qty": sum(line.short for line in state.lines),
            },
            occurred_at=now,
        )
    if release:
        order.revision += 1
        order.released = True
        await session.flush()
        loaded = await load_order(session, pk=order.id)
        assert loaded is not None  # locked by this transaction
        seq = await append_work_item(
            session,
            site=site.site,
            type=ORDER_RELEASED,
            order_pk=order.id,
            payload=stored_released_payload(loaded, site),
            now=now,
        )
        record(
            session,
            order,
            ORDER_RELEASED,
            now,
            {"site": site.site, "seq": seq, "revision": order.revision},
        )
    order.updated_at = now
    return OrderStockChange(
        order_id=order.order_id,
        status=status,
        status_reason=order.status_reason,
        reserved_delta=state.reserved - state.reserved_before,
        released_to_site=release,
        revision=order.revision,
    )
