"""The central store's tables (DESIGN §4: the system of record).

Stock truth lives in three places, each with one job:
- `bins.on_hand`: what is physically in a bin; changes only with a `stock_ledger` row, in the
  same transaction, on a physical confirmation (seed, receipt, count, pick, put-back).
- `reservations`: order line → bin → qty. A bin's reserved quantity is the sum of its open
  reservations (`qty - picked_qty - released_qty`) and available is on hand less that: both
  are derived, never stored.
- `stock_ledger`: every change of stock, append only. A row with a bin is a change of that
  bin's on hand (so per bin, Σ qty_delta = on_hand); a row without one is the site's
  staging area, between a pick and the truck (pick +, ship -, put-back -).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db import Base, UtcDateTime

Json = JSON().with_variant(JSONB(), "postgresql")
ID_LEN = 64  # order, line, bin, tote and SKU ids
EVENT_ID_LEN = 100


class SiteRow(Base):
    __tablename__ = "sites"

    site: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The site's work feed counter. Bumped (row-locked) by the transaction that appends an
    # item, so seqs become visible in commit order and a reader's cursor never skips one.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class SkuRow(Base):
    __tablename__ = "skus"

    sku: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14))
    name: Mapped[str] = mapped_column(String(200))
    lot_tracked: Mapped[bool] = mapped_column(Boolean, default=False)


class BinRow(Base):
    """A rack location holding one tote of one SKU (of one lot, for lot-tracked SKUs).

    `received_at` is when the stock in it arrived (FIFO's key; NULL for seeded stock,
    which counts as the oldest)."""

    __tablename__ = "bins"
    __table_args__ = (
        UniqueConstraint("site", "bin"),
        CheckConstraint("on_hand >= 0", name="bins_on_hand_not_negative"),
        Index("ix_bins_site_sku", "site", "sku"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(ForeignKey("sites.site"))
    bin: Mapped[str] = mapped_column(String(ID_LEN))
    tote_id: Mapped[str] = mapped_column(String(ID_LEN))
    sku: Mapped[str] = mapped_column(ForeignKey("skus.sku"))
    on_hand: Mapped[int] = mapped_column(Integer)
    lot: Mapped[str | None] = mapped_column(String(ID_LEN))
    expires_on: Mapped[date | None] = mapped_column(Date)
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LedgerRow(Base):
    __tablename__ = "stock_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(ForeignKey("sites.site"))
    bin_id: Mapped[int | None] = mapped_column(ForeignKey("bins.id"), index=True)
    sku: Mapped[str] = mapped_column(ForeignKey("skus.sku"))
    lot: Mapped[str | None] = mapped_column(String(ID_LEN))
    qty_delta: Mapped[int] = mapped_column(Integer)
    # seed | receipt | adjustment | pick | put_back | ship
    reason: Mapped[str] = mapped_column(String(32))
    # The document behind the change: a receipt or adjustment id, an order.
    reference: Mapped[str | None] = mapped_column(String(ID_LEN))
    order_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    event_id: Mapped[str | None] = mapped_column(String(EVENT_ID_LEN))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OrderRow(Base):
    """An order. `version` is the ERP's (a higher one amends); `revision` counts what the
    site has been sent (each release or re-release bumps it); `released` says the site's
    feed holds it, so a cancel must go through the site."""

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(String(ID_LEN), unique=True)
    site: Mapped[str] = mapped_column(ForeignKey("sites.site"))
    status: Mapped[str] = mapped_column(String(32))
    status_reason: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(ID_LEN))
    priority: Mapped[int] = mapped_column(Integer)
    ship_by: Mapped[datetime | None] = mapped_column(UtcDateTime())
    customer: Mapped[dict[str, Any] | None] = mapped_column(Json)
    ship_to: Mapped[dict[str, Any]] = mapped_column(Json)
    carrier: Mapped[str | None] = mapped_column(String(ID_LEN))
    service: Mapped[str | None] = mapped_column(String(ID_LEN))
    # sha256 of the normalised request: a retried push with the same body is recognised.
    request_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    released: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    # The current version's lines only.
    lines: Mapped[list[OrderLineRow]] = relationship(
        primaryjoin="and_(OrderRow.id == OrderLineRow.order_pk, OrderLineRow.active)",
        order_by="OrderLineRow.position",
        lazy="raise",
        viewonly=True,
    )
    parcels: Mapped[list[ParcelRow]] = relationship(order_by="ParcelRow.id", lazy="raise")
    events: Mapped[list[OrderEventRow]] = relationship(order_by="OrderEventRow.id", lazy="raise")


class OrderLineRow(Base):
    """A line of one version of an order; an amendment retires the lines of the version
    before (`active` false) and their reservations, rather than rewriting history."""

    __tablename__ = "order_lines"
    __table_args__ = (
        UniqueConstraint("order_pk", "version", "line_id"),
        CheckConstraint("qty > 0", name="order_lines_qty_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer)
    line_id: Mapped[str] = mapped_column(String(ID_LEN))
    sku: Mapped[str] = mapped_column(ForeignKey("skus.sku"))
    qty: Mapped[int] = mapped_column(Integer)
    shipped_qty: Mapped[int] = mapped_column(Integer, default=0)

    reservations: Mapped[list[ReservationRow]] = relationship(
        order_by="ReservationRow.id", lazy="raise"
    )


OPEN_PREDICATE = "qty > picked_qty + released_qty"


class ReservationRow(Base):
    """Order line → bin → qty. Open (still holding stock) = qty - picked_qty - released_qty.
    Of what was picked, `put_back_qty` went back into the bin (a cancelled order)."""

    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("qty > 0", name="reservations_qty_positive"),
        CheckConstraint(
            "picked_qty >= 0 AND released_qty >= 0 AND picked_qty + released_qty <= qty",
            name="reservations_consumed_within_qty",
        ),
        CheckConstraint(
            "put_back_qty >= 0 AND put_back_qty <= picked_qty",
            name="reservations_put_back_within_picked",
        ),
        # Only open reservations count against a bin: the index holds just those, so the
        # sum per bin stays cheap however long the history grows.
        # The quantities ride in the index, so summing a bin's open reservations never
        # reads the table: the sum costs the backlog's index entries, not its rows.
        Index(
            "ix_reservations_open_bin",
            "bin_id",
            "qty",
            "picked_qty",
            "released_qty",
            sqlite_where=text(OPEN_PREDICATE),
            postgresql_where=text(OPEN_PREDICATE),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_pk: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    bin_id: Mapped[int] = mapped_column(ForeignKey("bins.id"), index=True)
    qty: Mapped[int] = mapped_column(Integer)
    picked_qty: Mapped[int] = mapped_column(Integer, default=0)
    released_qty: Mapped[int] = mapped_column(Integer, default=0)
    put_back_qty: Mapped[int] = mapped_column(Integer, default=0)
    # Of what was picked, how much the site has been asked to put back.
    put_back_requested_qty: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    bin: Mapped[BinRow] = relationship(lazy="raise")


class ParcelRow(Base):
    __tablename__ = "parcels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    sscc: Mapped[str] = mapped_column(String(18), unique=True)
    carrier: Mapped[str] = mapped_column(String(ID_LEN))
    tracking: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(32))
    chute: Mapped[str | None] = mapped_column(String(ID_LEN))
    door: Mapped[str | None] = mapped_column(String(ID_LEN))
    epcs: Mapped[list[str]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OrderEventRow(Base):
    """An order's timeline: what the API did (`source` api) and what the edge reported
    (`source` edge). `event_id` is unique: ingest is idempotent by it."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(EVENT_ID_LEN), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(Json)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WorkItemRow(Base):
    """A site's work feed (docs/protocols.md): immutable snapshots, `seq` per site."""

    __tablename__ = "work_items"

    site: Mapped[str] = mapped_column(ForeignKey("sites.site"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IdempotencyKeyRow(Base):
    """An `Idempotency-Key` a client used, per client (API key), and the answer it got."""

    __tablename__ = "idempotency_keys"

    principal: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(Json)  # the body, replayed as it was
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class StockDocumentRow(Base):
    """A receipt or adjustment as posted, by its client-chosen id: a retry with the same body
    replays the stored answer; another body under the same id is a conflict."""

    __tablename__ = "stock_documents"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # receipt | adjustment
    document_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AgvStatusRow(Base):
    """The newest fleet snapshot of each AGV, as its site's edge pushed it (api/fleet)."""

    __tablename__ = "agv_status"

    site: Mapped[str] = mapped_column(ForeignKey("sites.site"), primary_key=True)
    serial_number: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    observed_at: Mapped[datetime] = mapped_column(UtcDateTime())  # the edge's clock
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime())  # the API's clock
    status: Mapped[dict[str, Any]] = mapped_column(Json)  # api.fleet.schemas.AgvStatus
