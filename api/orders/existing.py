"""A push for an order id that is already stored: a retry, an amendment, or a conflict."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ApiProblem, OrderCancelled, OrderConflict, StaleOrderVersion
from api.models import OrderRow
from api.orders.schemas import OrderCreateRequest
from controller.domain.orders import OrderStatus


@dataclass(frozen=True, slots=True)
class KnownOrder:
    pk: int
    order_id: str
    request_hash: str
    version: int
    status: OrderStatus


async def classify_existing(
    session: AsyncSession, order_ids: Iterable[str]
) -> dict[str, KnownOrder]:
    wanted = sorted(set(order_ids))
    if not wanted:
        return {}
    rows = await session.execute(
        select(
            OrderRow.id, OrderRow.order_id, OrderRow.request_hash, OrderRow.version, OrderRow.status
        ).where(OrderRow.order_id.in_(wanted))
    )
    return {
        order_id: KnownOrder(pk, order_id, digest, version, OrderStatus(status))
        for pk, order_id, digest, version, status in rows.all()
    }


def answer_existing(
    known: KnownOrder, request: OrderCreateRequest, digest: str
) -> Literal["same", "amend"] | ApiProblem:
    """`same`: a retried push (answer 200 with the order); `amend`: a higher version."""
    if known.status in (OrderStatus.CANCELLED, OrderStatus.CANCEL_REQUESTED):
        return OrderCancelled(known.order_id, known.status)
    if known.request_hash == digest:
        return "same"
    if request.version > known.version:
        return "amend"
    if request.version < known.version:
        return StaleOrderVersion(known.order_id, request.version, known.version)
    return OrderConflict(known.order_id)
