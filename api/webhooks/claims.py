"""The worker's side of the delivery table: what is due, claiming it, recording outcomes.

Several API processes may share one database, each with a worker. A worker claims a row
with a conditional update (`locked_until` empty or past) that also sets its own `lease`,
so two workers never send one delivery at the same time, and records the outcome only
while the lease is still its own. On PostgreSQL the candidates are picked with
`FOR UPDATE SKIP LOCKED`, so workers pass each other's rows by instead of queueing
behind them; on SQLite the claiming transaction begins IMMEDIATE (`Database.writer`),
one claim at a time. A worker that dies holding a claim loses it when `locked_until`
passes, and another sends the delivery again: at least once on the wire.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.engine import CursorResult

from api.db import Database
from api.webhooks.models import (
    DeliveryStatus,
    WebhookDeliveryRow,
    WebhookEventRow,
    WebhookRow,
)

D, E, W = WebhookDeliveryRow, WebhookEventRow, WebhookRow


@dataclass(frozen=True, slots=True)
class Claim:
    """One delivery attempt a worker has claimed, with all it needs to send it."""

    delivery_pk: int
    lease: str
    attempt: int  # 1 for the first
    webhook_id: str
    url: str
    secret: str
    event_id: str
    body: str
    recorded_at: datetime  # when the event was enqueued


def _unclaimed(now: datetime) -> ColumnElement[bool]:
    return and_(
        D.status == DeliveryStatus.PENDING.value,
        W.deleted_at.is_(None),
        or_(D.locked_until.is_(None), D.locked_until <= now),
    )


async def next_due(db: Database, now: datetime) -> datetime | None:
    """When the earliest unclaimed delivery falls due (now or earlier: some are due), or None."""
    async with db.reader() as session, session.begin():
        due: datetime | None = await session.scalar(
            select(func.min(D.next_attempt_at)).join(W, W.id == D.webhook_pk).where(_unclaimed(now))
        )
        return due


async def claim(db: Database, now: datetime, *, limit: int, lease_s: float) -> list[Claim]:
    """Claim up to `limit` due deliveries, oldest due first, for `lease_s` seconds."""
    lease = uuid.uuid4().hex
    async with db.writer() as session, session.begin():
        candidates = (
            await session.scalars(
                select(D.id)
                .join(W, W.id == D.webhook_pk)
                .where(_unclaimed(now), D.next_attempt_at <= now)
                .order_by(D.next_attempt_at, D.id)
                .limit(limit)
                .with_for_update(of=D, skip_locked=True)
            )
        ).all()
        if not candidates:
            return []
        await session.execute(
            update(D)
            .where(
                D.id.in_(candidates),
                D.status == DeliveryStatus.PENDING.value,
                or_(D.locked_until.is_(None), D.locked_until <= now),
            )
            .values(
                locked_until=now + timedelta(seconds=lease_s),
                lease=lease,
                attempts=D.attempts + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        rows = await session.execute(
            select(
                D.id, D.attempts, W.webhook_id, W.url, W.secret, E.event_id, E.body, E.recorded_at
            )
            .join(W, W.id == D.webhook_pk)
            .join(E, E.id == D.event_pk)
            .where(D.lease == lease)
            .order_by(D.id)
        )
        return [Claim(r[0], lease, *r[1:]) for r in rows]


async def record(
    db: Database,
    claim: Claim,
    *,
    status: DeliveryStatus,
    now: datetime,
    next_attempt_at: datetime | None = None,
    status_code: int | None = None,
    error: str | None = None,
) -> bool:
    """Store an attempt's outcome and release the claim. False when the row is no longer
    this claim's (its subscription was deleted meanwhile, or the lease ran out)."""
    values: dict[str, Any] = {
        "status": status.value,
        "locked_until": None,
        "lease": None,
        "last_status_code": status_code,
        "last_error": error,
        "updated_at": now,
    }
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    if status is DeliveryStatus.DELIVERED:
        values["delivered_at"] = now
    async with db.writer() as session, session.begin():
        result = await session.execute(
            update(D)
            .where(
                D.id == claim.delivery_pk,
                D.lease == claim.lease,
                D.status == DeliveryStatus.PENDING.value,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1
