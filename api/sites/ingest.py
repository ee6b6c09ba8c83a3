"""Event ingest (docs/protocols.md, "Event ingest"): what each edge event does centrally.

A batch is one transaction (BEGIN IMMEDIATE on SQLite); each event runs in a savepoint of
its own, so a rejected event leaves no trace and never blocks the ones behind it.

Idempotency: an accepted event is stored in the order's timeline under its `event_id`
(unique). A repeat of it answers `duplicate` and changes nothing. A rejected event is not
stored: sent again, it is judged again (at-least-once delivery may bring it back after the
event it was waiting for).

Concurrency (PostgreSQL): the batch first locks every order it names, in id order, then for
`line.picked` the bins, in id order; order intake locks bins and then the site row and no
existing order. One global order of locks: no deadlocks, and two batches carrying the same
event meet at the order lock — the second finds the first's event and answers duplicate.
The unique `event_id` is the backstop.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import utcnow
from api.errors import field_path
from api.models import (
    BinRow,
    LedgerRow,
    OrderEventRow,
    OrderLineRow,
    OrderRow,
    ParcelRow,
    ReservationRow,
)
from api.orders.cancel import release_open
from api.orders.putback import request_putback
from api.orders.timeline import record
from api.sites.schemas import (
    EventIn,
    EventResult,
    EventType,
    LinePickedData,
    LinePutBackData,
    NoData,
    OrderExceptionData,
    OrderPackedData,
    ParcelAtDoorData,
    ParcelSortedData,
)
from api.webhooks import enqueue_webhook_event
from controller.domain.errors import InvalidTransition
from controller.domain.layout import Site
from controller.domain.orders import OrderStatus, ParcelStatus, advance, advance_parcel


class Rejected(Exception):
    """This event cannot take effect; `detail` says why (sent back to the edge)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass
class Applied:
    """What one accepted event did that the caller reports after commit."""

    entered: list[OrderStatus] = field(default_factory=list)


@dataclass(frozen=True)
class Event:
    """An event on its way in: its envelope, its typed data, and the order it is about."""

    envelope: EventIn
    data: Any
    order: OrderRow
    site: Site
    now: datetime


Handler = Callable[[AsyncSession, Event, Applied], Awaitable[None]]


@dataclass
class BatchOutcome:
    results: list[EventResult] = field(default_factory=list)
    entered: list[OrderStatus] = field(default_factory=list)
    counts: list[tuple[str, str]] = field(default_factory=list)  # (type, result)


async def ingest(session: AsyncSession, site: Site, events: Sequence[EventIn]) -> BatchOutcome:
    outcome = BatchOutcome()
    async with session.begin():
        await _lock_orders(session, {e.order_id for e in events})
        await _lock_bins(session, site.site, events)
        for envelope in events:
            applied = Applied()
            result = await _one(session, site, envelope, applied)
            outcome.results.append(result)
            outcome.counts.append((envelope.type, result.status))
            if result.status == "accepted":
                outcome.entered.extend(applied.entered)
    return outcome


async def _lock_orders(session: AsyncSession, order_ids: set[str]) -> None:
    if order_ids:
        await session.execute(
            select(OrderRow.id)
            .where(OrderRow.order_id.in_(sorted(order_ids)))
            .order_by(OrderRow.id)
            .with_for_update()
        )


async def _lock_bins(session: AsyncSession, site: str, events: Sequence[EventIn]) -> None:
    bins = {
        str(e.data["bin"])
        for e in events
        if e.type == EventType.LINE_PICKED
        and isinstance(e.data.get("bin"), str)
        and data_problem(e.data) is None  # rejected before it touches the database
    }
    if bins:
        await session.execute(
            select(BinRow.id)
            .where(BinRow.site == site, BinRow.bin.in_(sorted(bins)))
            .order_by(BinRow.id)
            .with_for_update()
        )


async def announce_status(
    session: AsyncSession,
    order: OrderRow,
    cause: str,
    entered: list[OrderStatus],
    now: datetime,
) -> None:
    """ERP webhooks for the statuses an event moved the order into; ids derive from the
    event's, so a redelivered event cannot announce twice."""
    for status in entered:
        data = {"order_id": order.order_id, "status": status.value, "site": order.site}
        await enqueue_webhook_event(
            session, "order.status_changed", data, event_id=f"{cause}:{status}", occurred_at=now
        )
        if status in (OrderStatus.SHIPPED, OrderStatus.CANCELLED):
            await enqueue_webhook_event(
                session,
                f"order.{status.value}",
                data,
                event_id=f"{cause}:{status}:final",
                occurred_at=now,
            )


async def _event_known(session: AsyncSession, event_id: str) -> bool:
    found = await session.scalar(select(OrderEventRow.id).where(OrderEventRow.event_id == event_id))
    return found is not None


def _rejected(envelope: EventIn, detail: str) -> EventResult:
    return EventResult(event_id=envelope.event_id, status="rejected", detail=detail)


def data_problem(value: Any, path: str = "data") -> str | None:
    """What in an event's `data` no database column can store, or None when it is fine:
    a NUL character or an invalid Unicode string (in a key or a value, at any depth),
    a NaN or an infinity (JSON has neither; PostgreSQL's JSONB refuses them)."""
    if isinstance(value, str):
        if "\x00" in value:
            return f"{path}: NUL character in a string"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{path}: not valid Unicode"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path}: not a finite number"
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if isinstance(key, str) else f"{path}[{key!r}]"
            problem = data_problem(key, f"{path} (a key)") or data_problem(item, where)
            if problem is not None:
                return problem
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            problem = data_problem(item, f"{path}[{i}]")
            if problem is not None:
                return problem
    return None


async def _one(
    session: AsyncSession, site: Site, envelope: EventIn, applied: Applied
) -> EventResult:
    if await _event_known(session, envelope.event_id):
        return EventResult(event_id=envelope.event_id, status="duplicate")
    try:
        event_type = EventType(envelope.type)
    except ValueError:
        return _rejected(envelope, f"unknown event type {envelope.type!r}")
    model, handler = HANDLERS[event_type]
    problem = data_problem(envelope.data)
    if problem is not None:
        return _rejected(envelope, f"invalid {envelope.type}: {problem}")
    try:
        data = model.model_validate(envelope.data)
    except ValidationError as exc:
        problems = "; ".join(
            f"data.{field_path(e['loc'])}: {e['msg']}" if e["loc"] else f"data: {e['msg']}"
            for e in exc.errors()
        )
        return _rejected(envelope, f"invalid {envelope.type}: {problems}")
    # Fresh from the database: a savepoint rolled back before may have expired the object.
    order = await session.scalar(
        select(OrderRow)
        .where(OrderRow.order_id == envelope.order_id)
        .execution_options(populate_existing=True)
    )
    if order is None:
        return _rejected(envelope, f"unknown order {envelope.order_id!r}")
    if order.site != site.site:
        return _rejected(envelope, f"order {order.order_id!r} belongs to site {order.site!r}")
    now = utcnow()
    try:
        async with session.begin_nested():
            session.add(
                OrderEventRow(
                    order_pk=order.id,
                    event_id=envelope.event_id,
                    type=envelope.type,
                    source="edge",
                    occurred_at=envelope.occurred_at,
                    data=envelope.data,
                    recorded_at=now,
                )
            )
            await session.flush()  # claims the event id before anything else changes
            await handler(session, Event(envelope, data, order, site, now), applied)
            order.updated_at = now
            await announce_status(session, order, envelope.event_id, applied.entered, now)
            await session.flush()
    except Rejected as exc:
        return _rejected(envelope, exc.detail)
    except InvalidTransition as exc:
        return _rejected(envelope, f"{envelope.type}: {exc}")
    except IntegrityError:
        # The savepoint is rolled back: the batch goes on. A concurrent batch may have
        # stored this very event (a duplicate), or claimed something the event needs.
        if await _event_known(session, envelope.event_id):
            return EventResult(event_id=envelope.event_id, status="duplicate")
        if isinstance(data, OrderPackedData):
            return _rejected(envelope, f"SSCC {data.sscc} already belongs to a parcel")
        return _rejected(envelope, f"{envelope.type}: conflicts with what is stored")
    except DBAPIError as exc:
        # A backstop for what validation missed: this event is refused, not the batch.
        if exc.connection_invalidated:
            raise
        return _rejected(
            envelope, f"{envelope.type}: could not be stored ({type(exc.orig).__name__})"
        )
    return EventResult(event_id=envelope.event_id, status="accepted")


# While a cancel is pending or done, the floor's progress reports are kept (timeline,
# parcels, stock) but do not move the order's status.
_STOPPED = frozenset({OrderStatus.CANCEL_REQUESTED, OrderStatus.CANCELLED})
_FLOOR_PROGRESS = frozenset(
    {
        OrderStatus.PICKING,
        OrderStatus.PICKED,
        OrderStatus.PACKED,
        OrderStatus.SORTED,
    }
)


def _move(order: OrderRow, to: OrderStatus, applied: Applied) -> None:
    if OrderStatus(order.status) in _STOPPED and to in _FLOOR_PROGRESS:
        return
    order.status = advance(order.order_id, OrderStatus(order.status), to).value
    applied.entered.append(to)


async def _order_picking(session: AsyncSession, event: Event, applied: Applied) -> None:
    _move(event.order, OrderStatus.PICKING, applied)


_PICKS_ACCEPTED = frozenset(
    {
        OrderStatus.PICKING,
        OrderStatus.EXCEPTION,
        OrderStatus.CANCEL_REQUESTED,
        OrderStatus.CANCELLED,
    }
)


def _unrelease(reservations: list[ReservationRow], wanted: int) -> int:
    taken = 0
    for r in reservations:
        back = min(wanted - taken, r.released_qty)
        r.released_qty -= back
        taken += back
    return taken


async def _order_picked(session: AsyncSession, event: Event, applied: Applied) -> None:
    order = event.order
    if order.status == OrderStatus.PICKING:  # any other status: the transition says why
        left = await _still_reserved(session, order)
        if left:
            lines = ", ".join(f"line {line_id!r}: {qty}" for line_id, qty in left)
            raise Rejected(
                f"order {order.order_id!r} has stock still reserved to pick ({lines}); "
                "order.picked needs every reservation picked"
            )
    _move(order, OrderStatus.PICKED, applied)


async def _still_reserved(session: AsyncSession, order: OrderRow) -> list[tuple[str, int]]:
    """(line id, quantity) of each line of the order with reservations still open."""
    open_qty = func.sum(
        ReservationRow.qty - ReservationRow.picked_qty - ReservationRow.released_qty
    )
    rows = await session.execute(
        select(OrderLineRow.line_id, open_qty)
        .join(ReservationRow, ReservationRow.line_pk == OrderLineRow.id)
        .where(OrderLineRow.order_pk == order.id)
        .group_by(OrderLineRow.id, OrderLineRow.line_id, OrderLineRow.position)
        .having(open_qty > 0)
        .order_by(OrderLineRow.position)
    )
    return [(line_id, int(qty)) for line_id, qty in rows.all()]


async def _line_picked(session: AsyncSession, event: Event, applied: Applied) -> None:
    order, data = event.order, event.data
    assert isinstance(data, LinePickedData)
    # A pick reported after the order went into exception still happened: the tote left
    # its bin. It counts as usual; the order stays in exception.
    if order.status not in _PICKS_ACCEPTED:
        raise Rejected(
            f"order {order.order_id!r} is {order.status}; line.picked needs picking "
            "(or exception, cancel_requested, cancelled)"
        )
    # The current version's line; a line of an older version only if the site refused an
    # amendment and went on picking the old one.
    line = await session.scalar(
        select(OrderLineRow)
        .where(OrderLineRow.order_pk == order.id, OrderLineRow.line_id == data.line_id)
        .order_by(OrderLineRow.active.desc(), OrderLineRow.version.desc())
        .limit(1)
    )
    if line is None:
        raise Rejected(f"order {order.order_id!r} has no line {data.line_id!r}")
    if line.sku != data.sku:
        raise Rejected(f"line {data.line_id!r} is for {line.sku!r}, not {data.sku!r}")
    bin_row = await _named_bin(session, order, data)
    reservations = list(
        (
            await session.scalars(
                select(ReservationRow)
                .where(ReservationRow.line_pk == line.id, ReservationRow.bin_id == bin_row.id)
                .order_by(ReservationRow.id)
                .execution_options(populate_existing=True)
            )
        ).all()
    )
    open_total = sum(r.qty - r.picked_qty - r.released_qty for r in reservations)
    if data.qty > open_total and order.status != OrderStatus.PICKING:
        # A pick the operator finished as the order stopped: it happened, so what was
        # released for it is taken back (and a cancelled order's put-back will return it).
        open_total += _unrelease(reservations, data.qty - open_total)
    if data.qty > open_total:
        raise Rejected(
            f"line {data.line_id!r} has {open_total} reserved at bin {data.bin!r}; "
            f"cannot pick {data.qty}"
        )
    taken = await session.execute(
        update(BinRow)
        .where(BinRow.id == bin_row.id, BinRow.on_hand >= data.qty)
        .values(on_hand=BinRow.on_hand - data.qty)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise Rejected(f"bin {data.bin!r} holds {bin_row.on_hand}; cannot pick {data.qty}")
    remaining = data.qty
    for r in reservations:
        take = min(remaining, r.qty - r.picked_qty - r.released_qty)
        r.picked_qty += take
        remaining -= take
    if order.status == OrderStatus.CANCELLED:  # picked after the site confirmed the cancel
        await session.flush()
        await request_putback(session, order, event.site, event.now)
    # The units leave the bin for the site's staging area (bin_id NULL) until they ship.
    _book(session, event, bin_row.id, line.sku, bin_row.lot, -data.qty, "pick")
    _book(session, event, None, line.sku, bin_row.lot, data.qty, "pick")


async def _named_bin(session: AsyncSession, order: OrderRow, data: LinePickedData) -> BinRow:
    """The bin (and tote) an event names, as stored now; Rejected if they do not match."""
    bin_row = await session.scalar(
        select(BinRow)
        .where(BinRow.site == order.site, BinRow.bin == data.bin)
        .execution_options(populate_existing=True)
    )
    if bin_row is None:
        raise Rejected(f"no bin {data.bin!r} at site {order.site!r}")
    if data.tote_id is not None and data.tote_id != bin_row.tote_id:
        raise Rejected(f"bin {data.bin!r} holds tote {bin_row.tote_id!r}, not {data.tote_id!r}")
    return bin_row


def _book(
    session: AsyncSession,
    event: Event,
    bin_id: int | None,
    sku: str,
    lot: str | None,
    qty_delta: int,
    reason: str,
    reference: str | None = None,
) -> None:
    """A ledger row caused by an edge event; `bin_id` None is the site's staging area."""
    session.add(
        LedgerRow(
            site=event.order.site,
            bin_id=bin_id,
            sku=sku,
            lot=lot,
            qty_delta=qty_delta,
            reason=reason,
            reference=reference,
            order_id=event.order.order_id,
            event_id=event.envelope.event_id,
            occurred_at=event.envelope.occurred_at,
            recorded_at=event.now,
        )
    )


async def _order_packed(session: AsyncSession, event: Event, applied: Applied) -> None:
    order, data = event.order, event.data
    assert isinstance(data, OrderPackedData)
    _move(order, OrderStatus.PACKED, applied)
    used = await session.scalar(select(ParcelRow.order_pk).where(ParcelRow.sscc == data.sscc))
    if used is not None:
        raise Rejected(f"SSCC {data.sscc} is already a parcel's")
    session.add(
        ParcelRow(
            order_pk=order.id,
            sscc=data.sscc,
            carrier=data.carrier,
            tracking=None,
            status=ParcelStatus.PACKED.value,
            epcs=data.epcs,
            created_at=event.now,
            updated_at=event.now,
        )
    )


async def _parcels(session: AsyncSession, order: OrderRow) -> list[ParcelRow]:
    stmt = (
        select(ParcelRow)
        .where(ParcelRow.order_pk == order.id)
        .order_by(ParcelRow.id)
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(stmt)).all())


def _parcel(parcels: list[ParcelRow], order: OrderRow, sscc: str) -> ParcelRow:
    for parcel in parcels:
        if parcel.sscc == sscc:
            return parcel
    raise Rejected(f"order {order.order_id!r} has no parcel {sscc}")


def _move_parcel(parcel: ParcelRow, to: ParcelStatus, now: datetime) -> None:
    parcel.status = advance_parcel(parcel.sscc, ParcelStatus(parcel.status), to).value
    parcel.updated_at = now


async def _parcel_sorted(session: AsyncSession, event: Event, applied: Applied) -> None:
    order, data = event.order, event.data
    assert isinstance(data, ParcelSortedData)
    parcels = await _parcels(session, order)
    parcel = _parcel(parcels, order, data.sscc)
    _move_parcel(parcel, ParcelStatus.SORTED, event.now)
    parcel.chute = data.chute
    if all(p.status == ParcelStatus.SORTED for p in parcels):
        _move(order, OrderStatus.SORTED, applied)


async def _parcel_loaded(session: AsyncSession, event: Event, applied: Applied) -> None:
    order, data = event.order, event.data
    assert isinstance(data, ParcelAtDoorData)
    parcel = _parcel(await _parcels(session, order), order, data.sscc)
    _move_parcel(parcel, ParcelStatus.LOADED, event.now)
    parcel.door = data.door


async def _parcel_shipped(session: AsyncSession, event: Event, applied: Applied) -> None:
    order, data = event.order, event.data
    assert isinstance(data, ParcelAtDoorData)
    parcels = await _parcels(session, order)
    parcel = _parcel(parcels, order, data.sscc)
    _move_parcel(parcel, ParcelStatus.SHIPPED, event.now)
    parcel.door = data.door
    if not all(p.status == ParcelStatus.SHIPPED for p in parcels):
        return
    _move(order, OrderStatus.SHIPPED, applied)
    # Every parcel has left: what was picked for each line has shipped.
    picked = dict(
        (
            await session.execute(
                select(ReservationRow.line_pk, func.sum(ReservationRow.picked_qty))
                .join(OrderLineRow, OrderLineRow.id == ReservationRow.line_pk)
                .where(OrderLineRow.order_pk == order.id)
                .group_by(ReservationRow.line_pk)
            )
        ).all()
    )
    lines = (
        await session.scalars(
            select(OrderLineRow)
            .where(OrderLineRow.order_pk == order.id, OrderLineRow.active.is_(True))
            .order_by(OrderLineRow.position)
            .execution_options(populate_existing=True)
        )
    ).all()
    for line in lines:
        line.shipped_qty = int(picked.get(line.id, 0) or 0)
        if line.shipped_qty:  # the units leave the site's staging area on the truck
            _book(session, event, None, line.sku, None, -line.shipped_qty, "ship")


async def _order_exception(session: AsyncSession, event: Event, applied: Applied) -> None:
    order, data = event.order, event.data
    assert isinstance(data, OrderExceptionData)
    _move(order, OrderStatus.EXCEPTION, applied)
    order.status_reason = data.reason


async def _order_cancelled(session: AsyncSession, event: Event, applied: Applied) -> None:
    """The site has stopped the order: what was not picked is released, what was is put
    back."""
    order = event.order
    _move(order, OrderStatus.CANCELLED, applied)
    released = await release_open(session, order)
    seq = await request_putback(session, order, event.site, event.now)
    record(
        session,
        order,
        "order.released_stock",
        event.now,
        {"released": released, "putback_seq": seq},
    )


async def _line_put_back(session: AsyncSession, event: Event, applied: Applied) -> None:
    order, data = event.order, event.data
    assert isinstance(data, LinePutBackData)
    bin_row = await _named_bin(session, order, data)
    reservations = list(
        (
            await session.scalars(
                select(ReservationRow)
                .join(OrderLineRow, OrderLineRow.id == ReservationRow.line_pk)
                .where(
                    OrderLineRow.order_pk == order.id,
                    OrderLineRow.line_id == data.line_id,
                    OrderLineRow.sku == data.sku,
                    ReservationRow.bin_id == bin_row.id,
                )
                .order_by(ReservationRow.id)
                .execution_options(populate_existing=True)
            )
        ).all()
    )
    owed = sum(r.picked_qty - r.put_back_qty for r in reservations)
    if data.qty > owed:
        raise Rejected(
            f"line {data.line_id!r} has {owed} picked from bin {data.bin!r} and not put back; "
            f"cannot put back {data.qty}"
        )
    remaining = data.qty
    for r in reservations:
        back = min(remaining, r.picked_qty - r.put_back_qty)
        r.put_back_qty += back
        remaining -= back
    await session.execute(
        update(BinRow)
        .where(BinRow.id == bin_row.id)
        .values(on_hand=BinRow.on_hand + data.qty)
        .execution_options(synchronize_session=False)
    )
    for bin_id, delta in ((None, -data.qty), (bin_row.id, data.qty)):
        _book(session, event, bin_id, data.sku, bin_row.lot, delta, "put_back", data.putback_id)


HANDLERS: dict[EventType, tuple[type[BaseModel], Handler]] = {
    EventType.ORDER_PICKING: (NoData, _order_picking),
    EventType.LINE_PICKED: (LinePickedData, _line_picked),
    EventType.ORDER_PICKED: (NoData, _order_picked),
    EventType.ORDER_PACKED: (OrderPackedData, _order_packed),
    EventType.PARCEL_SORTED: (ParcelSortedData, _parcel_sorted),
    EventType.PARCEL_LOADED: (ParcelAtDoorData, _parcel_loaded),
    EventType.PARCEL_SHIPPED: (ParcelAtDoorData, _parcel_shipped),
    EventType.ORDER_EXCEPTION: (OrderExceptionData, _order_exception),
    EventType.ORDER_CANCELLED: (NoData, _order_cancelled),
    EventType.LINE_PUT_BACK: (LinePutBackData, _line_put_back),
}
