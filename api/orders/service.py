"""Order intake: validate, reserve stock at bin level, answer — all in one transaction.

Never oversell: the decision reads what is available and writes reservations while no other
writer can change either.
- SQLite: the session begins `BEGIN IMMEDIATE` (api/db.py), so intakes run one at a time.
- PostgreSQL: the candidate bins of every SKU in the order are locked with
  `SELECT … FOR UPDATE`, ordered by bin id (one fixed order for everyone: no deadlocks);
  the open reservations are summed after the lock is held, so they include every
  reservation committed before it.

Retries: the same `order_id` with the same body answers 200 with the stored order; with a
different body 409. `Idempotency-Key` (per API key) replays the first answer's status for the
same body, and answers 422 for a different one. Two concurrent pushes of one order (or key)
meet at a unique constraint; the loser retries and finds the winner's order.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.db import utcnow
from api.errors import FieldError, IdempotencyKeyReused, InvalidRequest, OrderConflict
from api.models import (
    BinRow,
    IdempotencyKeyRow,
    OrderEventRow,
    OrderLineRow,
    OrderRow,
    ReservationRow,
    SkuRow,
)
from api.orders.queries import load_order, to_response
from api.orders.schemas import OrderCreateRequest, OrderResponse
from api.sites.feed import ORDER_RELEASED, append_work_item
from controller.domain.layout import Site
from controller.domain.orders import LineReservation, OrderStatus, advance, reservation_status
from controller.domain.stock import BinStock, LineAllocation, LineRequest, allocate_lines

MAX_ATTEMPTS = 3  # a lost race on a unique key is retried; a third loss is a real error


@dataclass(frozen=True, slots=True)
class Submission:
    status_code: int  # 201 created, 200 a retried push
    order: OrderResponse
    entered: tuple[OrderStatus, ...]  # statuses the order entered (for the metrics)


def resolve_site(request: OrderCreateRequest, sites: Mapping[str, Site]) -> Site:
    if request.site is None:
        if len(sites) == 1:
            return next(iter(sites.values()))
        raise InvalidRequest(
            [FieldError("site", f"required: more than one site is configured ({sorted(sites)})")]
        )
    site = sites.get(request.site)
    if site is None:
        raise InvalidRequest(
            [FieldError("site", f"unknown site {request.site!r}; known: {sorted(sites)}")]
        )
    return site


def request_hash(request: OrderCreateRequest) -> str:
    """The normalised body's fingerprint: equal for bodies that mean the same order."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def submit_order(
    session: AsyncSession,
    request: OrderCreateRequest,
    *,
    sites: Mapping[str, Site],
    principal: Principal,
    idempotency_key: str | None,
) -> Submission:
    site = resolve_site(request, sites)
    request = request.model_copy(update={"site": site.site})
    digest = request_hash(request)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            async with session.begin():
                return await _submit_once(
                    session, request, digest, site, principal, idempotency_key
                )
        except IntegrityError:
            if attempt == MAX_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


async def _submit_once(
    session: AsyncSession,
    request: OrderCreateRequest,
    digest: str,
    site: Site,
    principal: Principal,
    key: str | None,
) -> Submission:
    now = utcnow()
    if key is not None:
        used = await session.get(IdempotencyKeyRow, (principal.id, key))
        if used is not None:
            if used.request_hash != digest:
                raise IdempotencyKeyReused(key)
            return await _answer(session, used.order_pk, used.status_code)

    existing = await session.scalar(select(OrderRow).where(OrderRow.order_id == request.order_id))
    if existing is not None:
        if existing.request_hash != digest:
            raise OrderConflict(request.order_id)
        _remember_key(session, principal, key, digest, existing.id, 200, now)
        return await _answer(session, existing.id, 200)

    gtins = await _validate(session, request, site)
    order = OrderRow(
        order_id=request.order_id,
        site=site.site,
        status=OrderStatus.RECEIVED.value,
        channel=request.channel,
        priority=request.priority,
        ship_by=request.ship_by,
        customer=request.customer.model_dump(mode="json") if request.customer else None,
        ship_to=request.ship_to.model_dump(mode="json"),
        carrier=request.carrier,
        service=request.service,
        request_hash=digest,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    await session.flush()  # a concurrent push of this order_id fails here (unique)
    lines = [
        OrderLineRow(
            order_pk=order.id, position=i, line_id=x.line_id, sku=x.sku, qty=x.qty, shipped_qty=0
        )
        for i, x in enumerate(request.lines)
    ]
    session.add_all(lines)
    _record(session, order, "order.received", now, {"lines": len(lines)})
    await session.flush()  # the lines get their ids

    bins, allocations = await _reserve(session, site.site, request)
    for line in lines:
        for a in allocations[line.line_id].allocations:
            session.add(
                ReservationRow(
                    line_pk=line.id,
                    bin_id=bins[a.bin].id,
                    qty=a.qty,
                    picked_qty=0,
                    released_qty=0,
                    created_at=now,
                )
            )

    status = reservation_status(
        LineReservation(line.qty, allocations[line.line_id].reserved_qty) for line in lines
    )
    order.status = advance(order.order_id, OrderStatus.RECEIVED, status).value
    _record(
        session,
        order,
        f"order.{status.value}",
        now,
        {
            "lines": [
                {
                    "line_id": line.line_id,
                    "qty": line.qty,
                    "reserved_qty": allocations[line.line_id].reserved_qty,
                }
                for line in lines
            ]
        },
    )
    if status is OrderStatus.RESERVED:
        payload = _work_payload(request, allocations, bins, gtins)
        seq = await append_work_item(
            session,
            site=site.site,
            type=ORDER_RELEASED,
            order_pk=order.id,
            payload=payload,
            now=now,
        )
        _record(session, order, ORDER_RELEASED, now, {"site": site.site, "seq": seq})
    _remember_key(session, principal, key, digest, order.id, 201, now)
    await session.flush()
    answer = await _answer(session, order.id, 201)
    return Submission(answer.status_code, answer.order, (OrderStatus.RECEIVED, status))


async def _validate(
    session: AsyncSession, request: OrderCreateRequest, site: Site
) -> dict[str, str]:
    """Field errors for what the schema cannot know; the GTIN of each SKU otherwise."""
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, line in enumerate(request.lines):
        if line.line_id in seen:
            errors.append(FieldError(f"lines[{i}].line_id", f"duplicate line id {line.line_id!r}"))
        seen.add(line.line_id)
    wanted = {line.sku for line in request.lines}
    rows = await session.execute(select(SkuRow.sku, SkuRow.gtin).where(SkuRow.sku.in_(wanted)))
    gtins: dict[str, str] = dict(rows.all())
    for i, line in enumerate(request.lines):
        if line.sku not in gtins:
            errors.append(FieldError(f"lines[{i}].sku", f"unknown sku {line.sku!r}"))
    carriers = {c.code for c in site.carriers}
    if request.carrier is not None and request.carrier not in carriers:
        errors.append(
            FieldError(
                "carrier",
                f"unknown carrier {request.carrier!r} at site {site.site!r}; "
                f"known: {sorted(carriers)}",
            )
        )
    if errors:
        raise InvalidRequest(errors)
    return gtins


async def _reserve(
    session: AsyncSession, site: str, request: OrderCreateRequest
) -> tuple[dict[str, BinRow], dict[str, LineAllocation]]:
    skus = sorted({line.sku for line in request.lines})
    locked = (
        await session.scalars(
            select(BinRow)
            .where(BinRow.site == site, BinRow.sku.in_(skus))
            .order_by(BinRow.id)
            .with_for_update()
        )
    ).all()
    open_qty = ReservationRow.qty - ReservationRow.picked_qty - ReservationRow.released_qty
    held: dict[int, int] = {
        bin_id: int(total)
        for bin_id, total in (
            await session.execute(
                select(ReservationRow.bin_id, func.sum(open_qty))
                .where(ReservationRow.bin_id.in_([b.id for b in locked]))
                .group_by(ReservationRow.bin_id)
            )
        ).all()
    }
    stock: dict[str, list[BinStock]] = {}
    for b in locked:
        # A count can leave a bin holding less than is reserved: nothing is available then.
        stock.setdefault(b.sku, []).append(BinStock(b.bin, max(0, b.on_hand - held.get(b.id, 0))))
    allocations = allocate_lines(
        [LineRequest(line.line_id, line.sku, line.qty) for line in request.lines], stock
    )
    return {b.bin: b for b in locked}, allocations


def _work_payload(
    request: OrderCreateRequest,
    allocations: Mapping[str, LineAllocation],
    bins: Mapping[str, BinRow],
    gtins: Mapping[str, str],
) -> dict[str, Any]:
    return {
        "order_id": request.order_id,
        "priority": request.priority,
        "carrier": request.carrier,
        "service": request.service,
        "ship_by": request.ship_by.isoformat().replace("+00:00", "Z") if request.ship_by else None,
        "lines": [
            {
                "line_id": line.line_id,
                "sku": line.sku,
                "gtin": gtins[line.sku],
                "qty": line.qty,
                "allocations": [
                    {"bin": a.bin, "tote_id": bins[a.bin].tote_id, "qty": a.qty}
                    for a in allocations[line.line_id].allocations
                ],
            }
            for line in request.lines
        ],
    }


def _record(
    session: AsyncSession, order: OrderRow, type: str, now: datetime, data: dict[str, Any]
) -> None:
    session.add(
        OrderEventRow(
            order_pk=order.id,
            event_id=f"api-{uuid.uuid4()}",
            type=type,
            source="api",
            occurred_at=now,
            data=data,
            recorded_at=now,
        )
    )


def _remember_key(
    session: AsyncSession,
    principal: Principal,
    key: str | None,
    digest: str,
    order_pk: int,
    status_code: int,
    now: datetime,
) -> None:
    if key is not None:
        session.add(
            IdempotencyKeyRow(
                principal=principal.id,
                key=key,
                request_hash=digest,
                order_pk=order_pk,
                status_code=status_code,
                created_at=now,
            )
        )


async def _answer(session: AsyncSession, order_pk: int, status_code: int) -> Submission:
    await session.flush()
    order = await load_order(session, pk=order_pk)
    if order is None:
        raise LookupError(f"order #{order_pk} vanished inside its own transaction")
    return Submission(status_code, to_response(order), ())
