"""Entries the API itself makes on an order's timeline (edge events are stored by ingest)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.models import OrderEventRow, OrderRow


def record(
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
