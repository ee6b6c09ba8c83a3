"""Reading orders: one order with everything it shows, and keyset-paginated lists."""

from __future__ import annotations

import base64
import binascii

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from api.errors import FieldError, InvalidRequest
from api.models import OrderLineRow, OrderRow, ReservationRow
from api.orders.schemas import (
    AllocationOut,
    Customer,
    OrderLineOut,
    OrderResponse,
    ParcelOut,
    ShipTo,
    TimelineEvent,
)
from controller.domain.orders import OrderStatus, ParcelStatus

MAX_PK = 2**31 - 1


def _with_everything(stmt: Select[OrderRow]) -> Select[OrderRow]:
    return stmt.options(
        selectinload(OrderRow.lines)
        .selectinload(OrderLineRow.reservations)
        .selectinload(ReservationRow.bin),
        selectinload(OrderRow.parcels),
        selectinload(OrderRow.events),
    ).execution_options(populate_existing=True)


async def load_order(
    session: AsyncSession, *, order_id: str | None = None, pk: int | None = None
) -> OrderRow | None:
    stmt = select(OrderRow)
    stmt = (
        stmt.where(OrderRow.id == pk)
        if pk is not None
        else stmt.where(OrderRow.order_id == order_id)
    )
    return (await session.scalars(_with_everything(stmt))).one_or_none()


def line_out(line: OrderLineRow) -> OrderLineOut:
    held = [r for r in line.reservations if r.qty - r.released_qty > 0]
    reserved = sum(r.qty - r.released_qty for r in held)
    return OrderLineOut(
        line_id=line.line_id,
        sku=line.sku,
        qty=line.qty,
        reserved_qty=reserved,
        backordered_qty=max(0, line.qty - reserved),
        picked_qty=sum(r.picked_qty for r in line.reservations),
        shipped_qty=line.shipped_qty,
        allocations=[
            AllocationOut(bin=r.bin.bin, tote_id=r.bin.tote_id, qty=r.qty - r.released_qty)
            for r in held
        ],
    )


def to_response(order: OrderRow) -> OrderResponse:
    return OrderResponse(
        order_id=order.order_id,
        site=order.site,
        status=OrderStatus(order.status),
        status_reason=order.status_reason,
        version=order.version,
        channel=order.channel,
        priority=order.priority,
        ship_by=order.ship_by,
        customer=Customer.model_validate(order.customer) if order.customer else None,
        ship_to=ShipTo.model_validate(order.ship_to),
        carrier=order.carrier,
        service=order.service,
        lines=[line_out(line) for line in order.lines],
        parcels=[
            ParcelOut(
                sscc=p.sscc,
                carrier=p.carrier,
                tracking=p.tracking,
                status=ParcelStatus(p.status),
                chute=p.chute,
                door=p.door,
            )
            for p in order.parcels
        ],
        events=[
            TimelineEvent(event_id=e.event_id, type=e.type, occurred_at=e.occurred_at, data=e.data)
            for e in order.events
        ],
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"o:{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        pk = int(value)
        if prefix != "o" or not 0 <= pk <= MAX_PK:  # ids are 32-bit integer columns
            raise ValueError(raw)
        return pk
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest(
            [FieldError("cursor", "not a cursor this API gave out", location="query")]
        ) from None


async def list_orders(
    session: AsyncSession, *, status: OrderStatus | None, limit: int, cursor: str | None
) -> tuple[list[OrderRow], str | None]:
    """Oldest first; a page and the cursor of the next one (None when this is the last)."""
    stmt = select(OrderRow).order_by(OrderRow.id).limit(limit + 1)
    if status is not None:
        stmt = stmt.where(OrderRow.status == status.value)
    if cursor is not None:
        stmt = stmt.where(OrderRow.id > decode_cursor(cursor))
    rows = list((await session.scalars(_with_everything(stmt))).all())
    if len(rows) > limit:
        return rows[:limit], encode_cursor(rows[limit - 1].id)
    return rows, None
