"""The webhooks' tables: subscriptions, the outbox of events, one delivery per
(event, subscription).

Registered on `api.db.Base`; `api.migrate` imports this module, so the migrations see it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UtcDateTime

Json = JSON().with_variant(JSONB(), "postgresql")
URL_MAX = 2048
SECRET_MAX = 256
EVENT_ID_MAX = 100


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # due at `next_attempt_at`; claimed while `locked_until` is ahead
    DELIVERED = "delivered"  # a 2xx answer
    FAILED = "failed"  # the last attempt failed too
    CANCELLED = "cancelled"  # its subscription was deleted first


class WebhookRow(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(36), unique=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)  # the API key's fingerprint
    url: Mapped[str] = mapped_column(String(URL_MAX))
    events: Mapped[list[str]] = mapped_column(Json)
    # Kept as given: signing needs the secret itself, so it cannot be stored hashed.
    secret: Mapped[str] = mapped_column(String(SECRET_MAX))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Set by DELETE; the row stays so that past deliveries keep their subscription.
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class WebhookEventRow(Base):
    """One event, recorded once, in the transaction of the change it reports."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(EVENT_ID_MAX), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The exact bytes every attempt sends (JSONB would reorder keys between attempts).
    body: Mapped[str] = mapped_column(Text)


class WebhookDeliveryRow(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_pk", "webhook_pk"),  # once per subscription, whoever retries
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_pk: Mapped[int] = mapped_column(ForeignKey("webhook_events.id"))
    webhook_pk: Mapped[int] = mapped_column(ForeignKey("webhooks.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # A worker's claim: no other worker takes the row before `locked_until`; `lease` tells
    # the claiming worker that the row is still its own when it records the outcome.
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    lease: Mapped[str | None] = mapped_column(String(32))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
