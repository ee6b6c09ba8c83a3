"""The outbox: events recorded in the caller's own transaction, one delivery per subscription.

An event is stored if and only if the business change that caused it commits, because both
are one transaction; the worker (`api.webhooks.worker`) sends what has committed. The
fan-out happens here, so an event reaches exactly the subscriptions that existed when it
was enqueued, each once (a unique (event, subscription) pair), whatever the worker does.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import utcnow
from api.webhooks.catalogue import EVENT_TYPES, matches
from api.webhooks.models import (
    EVENT_ID_MAX,
    DeliveryStatus,
    WebhookDeliveryRow,
    WebhookEventRow,
    WebhookRow,
)
from api.webhooks.wakeup import poke_after_commit


async def enqueue_webhook_event(
    session: AsyncSession,
    type: str,
    data: Mapping[str, Any],
    *,
    event_id: str | None = None,
    occurred_at: datetime,
) -> str:
    """Record `type` with `data` for every subscription to it, and return the event id.

    Call it inside the transaction of the change the event reports (`session.begin()`
    already entered). An `event_id` already recorded is not recorded or sent again, so
    a handler that runs twice may pass a deterministic id. `data` must be JSON (no NaN).
    """
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {type!r}; known: {sorted(EVENT_TYPES)}")
    if occurred_at.tzinfo is None:
        raise ValueError(f"naive occurred_at {occurred_at!r}: pass an aware datetime")
    if not session.in_transaction():
        raise RuntimeError("enqueue_webhook_event runs inside the caller's transaction")
    event_id = event_id or str(uuid.uuid4())
    if not 0 < len(event_id) <= EVENT_ID_MAX or "\x00" in event_id:
        raise ValueError(f"event id {event_id!r}: 1 to {EVENT_ID_MAX} characters, no NUL")
    now = utcnow()
    event_pk = await _insert_event(
        session,
        event_id=event_id,
        type=type,
        occurred_at=occurred_at,
        recorded_at=now,
        body=encode_body(event_id, type, occurred_at, data),
    )
    if event_pk is None:
        return event_id  # recorded before, by an earlier run of the same change
    subscriptions = await session.execute(
        select(WebhookRow.id, WebhookRow.events).where(WebhookRow.deleted_at.is_(None))
    )
    deliveries = [
        {
            "event_pk": event_pk,
            "webhook_pk": pk,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "updated_at": now,
        }
        for pk, events in subscriptions
        if matches(events, type)
    ]
    if deliveries:
        await session.execute(insert(WebhookDeliveryRow), deliveries)
        poke_after_commit(session)
    return event_id


def encode_body(event_id: str, type: str, occurred_at: datetime, data: Mapping[str, Any]) -> str:
    """The delivery's JSON, encoded once: every attempt sends (and signs) the same bytes."""
    body = {
        "event_id": event_id,
        "type": type,
        "occurred_at": occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": dict(data),
    }
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    text.encode()  # a lone surrogate fails here, in the caller's transaction, not in sending
    return text


async def _insert_event(session: AsyncSession, **values: Any) -> int | None:
    """The new event's key, or None when its id is already recorded. A concurrent twin
    waits for the first to commit (PostgreSQL) or for the write lock (SQLite), then skips."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(WebhookEventRow)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(WebhookEventRow.id)
    )
    pk: int | None = await session.scalar(stmt)
    return pk
