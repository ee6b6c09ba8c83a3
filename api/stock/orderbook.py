"""The orders a stock document touches, locked, with their active lines and reservations.

Lock order: a stock document locks its bins first (api/stock/bins.py), then the orders.
Orders whose reservations a count must cut are waited for. Orders that only stand to gain
stock (backorders) are taken with SKIP LOCKED, so a document never waits on an order that
another transaction (an amendment, a cancel) is changing; that order is simply served by a
later receipt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import BinRow, OrderLineRow, OrderRow, ReservationRow
from controller.domain.orders import OrderStatus
from controller.domain.shortage import Standing, Urgency, standing


@dataclass
class LineState:
    row: OrderLineRow
    reservations: list[ReservationRow]

    @property
    def reserved(self) -> int:
        """Reserved for the line, picked included (as `reserved_qty` shows it)."""
        return sum(r.qty - r.released_qty for r in self.reservations)

    @property
    def short(self) -> int:
        return self.row.qty - self.reserved


@dataclass(frozen=True, slots=True)
class CutRecord:
    line_id: str
    sku: str
    bin: str
    qty: int


@dataclass
class OrderState:
    row: OrderRow
    lines: list[LineState]
    status: OrderStatus  # as locked
    reserved_before: int
    cuts: list[CutRecord] = field(default_factory=list)
    added: dict[str, int] = field(default_factory=dict)  # line id → units newly reserved

    @property
    def standing(self) -> Standing:
        return standing(self.status, self.row.released)

    @property
    def urgency(self) -> Urgency:
        row = self.row
        return Urgency(row.priority, row.ship_by, row.created_at, row.id)

    @property
    def reserved(self) -> int:
        return sum(line.reserved for line in self.lines)

    def line(self, line_pk: int) -> LineState:
        return next(line for line in self.lines if line.row.id == line_pk)


class OrderBook:
    """The locked orders, by primary key."""

    def __init__(self, session: AsyncSession, now: datetime) -> None:
        self.session = session
        self.now = now
        self.orders: dict[int, OrderState] = {}

    async def lock(self, order_pks: Iterable[int], *, skip_locked: bool = False) -> None:
        """Lock the orders not held yet (in key order) and load their active lines."""
        new = sorted(set(order_pks) - self.orders.keys())
        if not new:
            return
        rows = (
            await self.session.scalars(
                select(OrderRow)
                .where(OrderRow.id.in_(new))
                .order_by(OrderRow.id)
                .with_for_update(skip_locked=skip_locked)
                .execution_options(populate_existing=True)
            )
        ).all()
        if not rows:
            return
        lines = (
            await self.session.scalars(
                select(OrderLineRow)
                .where(
                    OrderLineRow.order_pk.in_([row.id for row in rows]),
                    OrderLineRow.active.is_(True),
                )
                .order_by(OrderLineRow.order_pk, OrderLineRow.position)
                .execution_options(populate_existing=True)
            )
        ).all()
        reservations = (
            await self.session.scalars(
                select(ReservationRow)
                .where(ReservationRow.line_pk.in_([line.id for line in lines]))
                .order_by(ReservationRow.id)
                .execution_options(populate_existing=True)
            )
        ).all()
        by_line: dict[int, list[ReservationRow]] = {}
        for r in reservations:
            by_line.setdefault(r.line_pk, []).append(r)
        by_order: dict[int, list[LineState]] = {}
        for line in lines:
            by_order.setdefault(line.order_pk, []).append(LineState(line, by_line.get(line.id, [])))
        for row in rows:
            states = by_order.get(row.id, [])
            self.orders[row.id] = OrderState(
                row, states, OrderStatus(row.status), sum(s.reserved for s in states)
            )

    def reserve(self, order: OrderState, line: LineState, bin_row: BinRow, qty: int) -> None:
        reservation = ReservationRow(
            line_pk=line.row.id,
            bin_id=bin_row.id,
            qty=qty,
            picked_qty=0,
            released_qty=0,
            put_back_qty=0,
            put_back_requested_qty=0,
            created_at=self.now,
        )
        self.session.add(reservation)
        line.reservations.append(reservation)
        order.added[line.row.line_id] = order.added.get(line.row.line_id, 0) + qty
