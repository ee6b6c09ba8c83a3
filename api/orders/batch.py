"""Order intake for many pushes in one transaction (group commit), each answered on its own.

One commit costs far more than the work of one order (DESIGN §7: ~630 single-row
transactions/s on SQLite), so the intake writer (api/orders/intake.py) hands every push
that queued while the last batch ran to `take_batch`, which decides them all in one
transaction:

1. the retries are told apart from the new orders by what is stored (order ids and
   `Idempotency-Key`s), read once for the batch;
2. the bins of every (site, SKU) the new orders want are locked and their availability
   read once (api/stock/availability.py);
3. the orders are allocated one after the other, in arrival order, against that running
   availability, so a later order sees what an earlier one took;
4. everything is written with a few multi-row inserts; the answers are built from what
   was written, without reading it back.

Each push gets its own answer or its own error; a push that cannot be decided inside a
batch (an amendment, or a second push of an order id or key already in this batch) comes
back in `deferred` and runs after the batch has committed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ApiProblem, IdempotencyKeyReused
from api.ids import next_ids
from api.models import (
    BinRow,
    IdempotencyKeyRow,
    OrderEventRow,
    OrderLineRow,
    OrderRow,
    ReservationRow,
    SiteRow,
    WorkItemRow,
)
from api.orders.existing import answer_existing, classify_existing
from api.orders.queries import load_order, to_response
from api.orders.release import released_payload
from api.orders.schemas import (
    AllocationOut,
    OrderCreateRequest,
    OrderLineOut,
    OrderResponse,
    TimelineEvent,
    header_columns,
)
from api.sites.feed import ORDER_RELEASED
from api.stock.availability import SkuStock, allocate_at, lock_bins
from api.stock.signals import StockSignals, announce_low_stock, low_stock_crossings
from controller.domain.layout import Site
from controller.domain.orders import LineReservation, OrderStatus, reservation_status
from controller.domain.stock import LineAllocation, LineRequest

ORDERS = OrderRow.__table__
LINES = OrderLineRow.__table__
RESERVATIONS = ReservationRow.__table__
EVENTS = OrderEventRow.__table__
WORK_ITEMS = WorkItemRow.__table__


@dataclass(frozen=True, slots=True)
class Submission:
    status_code: int  # 201 created, 200 a retried push or an amendment
    order: OrderResponse
    entered: tuple[OrderStatus, ...] = ()  # statuses the order entered (for the metrics)
    # The first answer to an Idempotency-Key, replayed as it was.
    replay: dict[str, Any] | None = None


@dataclass(eq=False)
class Push:
    """One `POST /orders` waiting for its answer."""

    request: OrderCreateRequest
    sites: list[Site]  # where it may be filled (validated)
    digest: str  # the normalised body's fingerprint
    principal: str
    key: str | None
    answer: asyncio.Future[Submission]


@dataclass
class BatchOutcome:
    answers: dict[Push, Submission | ApiProblem] = field(default_factory=dict)
    deferred: list[Push] = field(default_factory=list)
    signals: StockSignals = field(default_factory=StockSignals)


@dataclass
class _NewOrder:
    push: Push
    site: Site
    allocations: dict[str, LineAllocation]
    bins: dict[str, BinRow]  # the chosen site's bins, by code
    status: OrderStatus
    pk: int = 0
    line_pks: list[int] = field(default_factory=list)
    events: list[TimelineEvent] = field(default_factory=list)
    seq: int | None = None


async def take_batch(
    session: AsyncSession,
    pushes: Sequence[Push],
    *,
    now: datetime,
    today: date,
    distances: Mapping[str, Mapping[str, float]],
) -> BatchOutcome:
    """Decide every push; the caller commits (or rolls back and retries the batch)."""
    outcome = BatchOutcome()
    keys = await _stored_keys(session, pushes)
    existing = await classify_existing(session, [p.request.order_id for p in pushes])
    fresh: list[Push] = []
    seen_ids: set[str] = set()
    seen_keys: set[tuple[str, str]] = set()
    for push in pushes:
        key = (push.principal, push.key) if push.key is not None else None
        if push.request.order_id in seen_ids or (key is not None and key in seen_keys):
            outcome.deferred.append(push)  # decided once the first one has committed
            continue
        seen_ids.add(push.request.order_id)
        if key is not None:
            seen_keys.add(key)
            stored = keys.get(key)
            if stored is not None:
                if stored.request_hash != push.digest:
                    outcome.answers[push] = IdempotencyKeyReused(key[1])
                else:
                    outcome.answers[push] = _replayed(stored)
                continue
        known = existing.get(push.request.order_id)
        if known is None:
            fresh.append(push)
            continue
        decision = answer_existing(known, push.request, push.digest)
        if decision == "amend":
            outcome.deferred.append(push)
        elif isinstance(decision, ApiProblem):
            outcome.answers[push] = decision
        else:
            order = await load_order(session, pk=known.pk)
            assert order is not None  # it is locked in: orders are never deleted
            answer = Submission(200, to_response(order))
            _remember_key(session, push, known.pk, answer, now)
            outcome.answers[push] = answer
    if fresh:
        created = await _create(session, fresh, now, today, distances, outcome.signals)
        for new in created:
            answer = Submission(201, _response(new, now), (OrderStatus.RECEIVED, new.status))
            _remember_key(session, new.push, new.pk, answer, now)
            outcome.answers[new.push] = answer
    await session.flush()
    return outcome


async def _stored_keys(
    session: AsyncSession, pushes: Sequence[Push]
) -> dict[tuple[str, str], IdempotencyKeyRow]:
    wanted = {(p.principal, p.key) for p in pushes if p.key is not None}
    if not wanted:
        return {}
    rows = await session.scalars(
        select(IdempotencyKeyRow).where(
            tuple_(IdempotencyKeyRow.principal, IdempotencyKeyRow.key).in_(sorted(wanted))
        )
    )
    return {(row.principal, row.key): row for row in rows}


def _replayed(stored: IdempotencyKeyRow) -> Submission:
    body = stored.response
    return Submission(stored.status_code, OrderResponse.model_validate(body), replay=body)


def _remember_key(
    session: AsyncSession, push: Push, order_pk: int, answer: Submission, now: datetime
) -> None:
    if push.key is None:
        return
    session.add(
        IdempotencyKeyRow(
            principal=push.principal,
            key=push.key,
            request_hash=push.digest,
            order_pk=order_pk,
            status_code=answer.status_code,
            response=answer.order.model_dump(mode="json"),
            created_at=now,
        )
    )


async def _create(
    session: AsyncSession,
    pushes: list[Push],
    now: datetime,
    today: date,
    distances: Mapping[str, Mapping[str, float]],
    signals: StockSignals,
) -> list[_NewOrder]:
    # Everything that needs no lock comes first: the bins stay locked (PostgreSQL) only
    # from the availability read to the commit.
    order_pks, line_pks = await next_ids(
        session, [(ORDERS, len(pushes)), (LINES, sum(len(p.request.lines) for p in pushes))]
    )
    stock = await lock_bins(
        session,
        {(site.site, line.sku) for p in pushes for site in p.sites for line in p.request.lines},
    )
    before = {pair: entry.total_available(today) for pair, entry in stock.items()}
    created = [_allocate(push, stock, today, distances) for push in pushes]
    await _insert(session, created, order_pks, line_pks, now)
    sites = {site.site: site for p in pushes for site in p.sites}
    low = low_stock_crossings(stock, before, today, sites)
    await announce_low_stock(session, low, now)
    signals.low.extend(low)
    return created


def _allocate(
    push: Push,
    stock: Mapping[tuple[str, str], SkuStock],
    today: date,
    distances: Mapping[str, Mapping[str, float]],
) -> _NewOrder:
    """Allocate at the site that fills the order whole, else the one that fills most (ties:
    the first configured), and take what it allocates from the running availability."""
    lines = [LineRequest(x.line_id, x.sku, x.qty) for x in push.request.lines]
    best: tuple[int, Site, dict[str, LineAllocation]] | None = None
    for site in push.sites:
        allocations = allocate_at(site, lines, stock, today, distances.get(site.site, {}))
        filled = sum(a.reserved_qty for a in allocations.values())
        if best is None or filled > best[0]:
            best = (filled, site, allocations)
        if filled == sum(line.qty for line in lines):
            break
    assert best is not None  # validation leaves at least one site
    _, site, allocations = best
    bins: dict[str, BinRow] = {}
    for line in lines:
        entry = stock[(site.site, line.sku)]
        for a in allocations[line.line_id].allocations:
            entry.take(a.bin, a.qty)
            bins[a.bin] = entry.bins[a.bin]
    status = reservation_status(
        LineReservation(line.qty, allocations[line.line_id].reserved_qty) for line in lines
    )
    return _NewOrder(push, site, allocations, bins, status)


async def _insert(
    session: AsyncSession,
    created: list[_NewOrder],
    order_pks: list[int],
    line_pks_taken: list[int],
    now: datetime,
) -> None:
    # Core inserts of many rows each, keys taken beforehand (api/ids.py): no per-row trips.
    for new, pk in zip(created, order_pks, strict=True):
        new.pk = pk
    await session.execute(insert(ORDERS), [_order_row(new, now) for new in created])
    line_pks = iter(line_pks_taken)
    line_rows = []
    for new in created:
        for i, line in enumerate(new.push.request.lines):
            new.line_pks.append(next(line_pks))
            line_rows.append(
                {
                    "id": new.line_pks[-1],
                    "order_pk": new.pk,
                    "version": new.push.request.version,
                    "active": True,
                    "position": i,
                    "line_id": line.line_id,
                    "sku": line.sku,
                    "qty": line.qty,
                    "shipped_qty": 0,
                }
            )
    await session.execute(insert(LINES), line_rows)
    reservations = [
        {
            "line_pk": line_pk,
            "bin_id": new.bins[a.bin].id,
            "qty": a.qty,
            "picked_qty": 0,
            "released_qty": 0,
            "put_back_qty": 0,
            "put_back_requested_qty": 0,
            "created_at": now,
        }
        for new in created
        for line, line_pk in zip(new.push.request.lines, new.line_pks, strict=True)
        for a in new.allocations[line.line_id].allocations
    ]
    if reservations:
        await session.execute(insert(RESERVATIONS), reservations)
    await _release(session, [new for new in created if new.status is OrderStatus.RESERVED], now)
    events = [
        {"order_pk": new.pk, "source": "api", "recorded_at": now, **_event_row(e)}
        for new in created
        for e in _timeline(new, now)
    ]
    await session.execute(insert(EVENTS), events)


def _order_row(new: _NewOrder, now: datetime) -> dict[str, Any]:
    request = new.push.request
    return {
        "id": new.pk,
        "order_id": request.order_id,
        "site": new.site.site,
        "status": new.status.value,
        "status_reason": None,
        **header_columns(request),
        "request_hash": new.push.digest,
        "revision": 1 if new.status is OrderStatus.RESERVED else 0,
        "released": new.status is OrderStatus.RESERVED,
        "created_at": now,
        "updated_at": now,
    }


async def _release(session: AsyncSession, released: list[_NewOrder], now: datetime) -> None:
    """Append the fully reserved orders to their sites' work feeds, one seq each."""
    by_site: dict[str, list[_NewOrder]] = {}
    for new in released:
        by_site.setdefault(new.site.site, []).append(new)
    rows = []
    for site, orders in sorted(by_site.items()):
        last = await session.scalar(
            update(SiteRow)
            .where(SiteRow.site == site)
            .values(last_seq=SiteRow.last_seq + len(orders))
            .returning(SiteRow.last_seq)
            .execution_options(synchronize_session=False)
        )
        if last is None:
            raise LookupError(f"site {site!r} is not in the database")
        for seq, new in enumerate(orders, start=last - len(orders) + 1):
            new.seq = seq
            rows.append(
                {
                    "site": site,
                    "seq": seq,
                    "type": ORDER_RELEASED,
                    "order_pk": new.pk,
                    "payload": released_payload(
                        new.push.request, new.allocations, new.bins, new.site, revision=1
                    ),
                    "created_at": now,
                }
            )
    if rows:
        await session.execute(insert(WORK_ITEMS), rows)


def _timeline(new: _NewOrder, now: datetime) -> list[TimelineEvent]:
    lines = new.push.request.lines
    events = [
        _event("order.received", now, {"lines": len(lines)}),
        _event(
            f"order.{new.status.value}",
            now,
            {
                "lines": [
                    {
                        "line_id": line.line_id,
                        "qty": line.qty,
                        "reserved_qty": new.allocations[line.line_id].reserved_qty,
                    }
                    for line in lines
                ]
            },
        ),
    ]
    if new.seq is not None:
        events.append(_event(ORDER_RELEASED, now, {"site": new.site.site, "seq": new.seq}))
    new.events = events
    return events


def _event(type: str, now: datetime, data: dict[str, Any]) -> TimelineEvent:
    return TimelineEvent(event_id=f"api-{uuid.uuid4()}", type=type, occurred_at=now, data=data)


def _event_row(event: TimelineEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "type": event.type,
        "occurred_at": event.occurred_at,
        "data": event.data,
    }


def _response(new: _NewOrder, now: datetime) -> OrderResponse:
    request = new.push.request
    return OrderResponse(
        order_id=request.order_id,
        site=new.site.site,
        status=new.status,
        status_reason=None,
        version=request.version,
        channel=request.channel,
        priority=request.priority,
        ship_by=request.ship_by,
        customer=request.customer,
        ship_to=request.ship_to,
        carrier=request.carrier,
        service=request.service,
        lines=[
            OrderLineOut(
                line_id=line.line_id,
                sku=line.sku,
                qty=line.qty,
                reserved_qty=new.allocations[line.line_id].reserved_qty,
                backordered_qty=new.allocations[line.line_id].short_qty,
                picked_qty=0,
                shipped_qty=0,
                allocations=[
                    AllocationOut(bin=a.bin, tote_id=new.bins[a.bin].tote_id, qty=a.qty)
                    for a in new.allocations[line.line_id].allocations
                ],
            )
            for line in request.lines
        ],
        parcels=[],
        events=new.events,
        created_at=now,
        updated_at=now,
    )
