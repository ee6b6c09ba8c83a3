"""`POST /orders/{id}/cancel`: stop an order that has not shipped.

An order its site does not hold yet (never fully reserved) is cancelled at once and its
reservations released. An order the site holds may be moving on the floor: it becomes
`cancel_requested`, the site is sent `order.cancel` on its work feed, and the order is
`cancelled` when the site confirms (event `order.cancelled`, api/sites/ingest.py), which
also releases what was not picked and asks the site to put back what was.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import CancelRefused, NotFound
from api.models import OrderLineRow, OrderRow, ReservationRow
from api.orders.queries import load_order, to_response
from api.orders.schemas import OrderResponse
from api.orders.timeline import record
from api.sites.feed import ORDER_CANCEL, append_work_item
from api.webhooks import enqueue_webhook_event
from controller.domain.orders import OrderStatus, advance


async def cancel_order(
    session: AsyncSession, order_id: str, reason: str | None, now: datetime
) -> tuple[int, OrderResponse]:
    """(200 cancelled | 202 waiting for the site, the order)."""
    order = await session.scalar(
        select(OrderRow)
        .where(OrderRow.order_id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise NotFound("order", order_id)
    status = OrderStatus(order.status)
    if status is OrderStatus.SHIPPED:
        raise CancelRefused(order_id, "it has shipped")
    if status not in (OrderStatus.CANCELLED, OrderStatus.CANCEL_REQUESTED):
        data: dict[str, Any] = {"reason": reason}
        if order.released:
            order.status = advance(order_id, status, OrderStatus.CANCEL_REQUESTED).value
            seq = await append_work_item(
                session,
                site=order.site,
                type=ORDER_CANCEL,
                order_pk=order.id,
                payload={"order_id": order_id},
                now=now,
            )
            record(session, order, "order.cancel_requested", now, {**data, "seq": seq})
        else:
            order.status = advance(order_id, status, OrderStatus.CANCELLED).value
            data["released"] = await release_open(session, order)
            record(session, order, "order.cancelled", now, data)
            await enqueue_webhook_event(
                session,
                "order.cancelled",
                {"order_id": order_id, "status": "cancelled", "site": order.site},
                occurred_at=now,
            )
        order.status_reason = reason
        order.updated_at = now
        await session.flush()
    loaded = await load_order(session, pk=order.id)
    assert loaded is not None  # locked by this transaction
    code = 202 if loaded.status == OrderStatus.CANCEL_REQUESTED else 200
    return code, to_response(loaded)


async def release_open(session: AsyncSession, order: OrderRow) -> int:
    """Release every open reservation of the order's lines; the units released."""
    reservations = (
        await session.scalars(
            select(ReservationRow)
            .join(OrderLineRow, OrderLineRow.id == ReservationRow.line_pk)
            .where(OrderLineRow.order_pk == order.id)
            .order_by(ReservationRow.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    released = 0
    for r in reservations:
        open_qty = r.qty - r.picked_qty - r.released_qty
        if open_qty > 0:
            r.released_qty += open_qty
            released += open_qty
    return released
