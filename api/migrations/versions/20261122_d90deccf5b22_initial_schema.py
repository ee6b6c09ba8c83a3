"""Initial schema: the tables as the models declared them when migrations began.

Revision ID: d90deccf5b22
Revises:
Create Date: 2026-11-22 08:18:53.199777
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "d90deccf5b22"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The models' `Json`: JSONB on PostgreSQL, JSON (text) on SQLite. Their `UtcDateTime` is
# stored as the `DateTime(timezone=True)` it wraps.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("site", name=op.f("sites_pkey")),
    )
    op.create_table(
        "skus",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lot_tracked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("sku", name=op.f("skus_pkey")),
    )
    op.create_table(
        "stock_documents",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("document_id", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "document_id", name=op.f("stock_documents_pkey")),
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("webhook_events_pkey")),
        sa.UniqueConstraint("event_id", name=op.f("webhook_events_event_id_key")),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.String(length=36), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.Column("secret", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("webhooks_pkey")),
        sa.UniqueConstraint("webhook_id", name=op.f("webhooks_webhook_id_key")),
    )
    op.create_index(op.f("ix_webhooks_owner"), "webhooks", ["owner"], unique=False)

    op.create_table(
        "bins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("bin", sa.String(length=64), nullable=False),
        sa.Column("tote_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("on_hand >= 0", name="bins_on_hand_not_negative"),
        sa.ForeignKeyConstraint(["site"], ["sites.site"], name=op.f("bins_site_fkey")),
        sa.ForeignKeyConstraint(["sku"], ["skus.sku"], name=op.f("bins_sku_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("bins_pkey")),
        sa.UniqueConstraint("site", "bin", name=op.f("bins_site_bin_key")),
    )
    op.create_index("ix_bins_site_sku", "bins", ["site", "sku"], unique=False)

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("ship_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("customer", JSON, nullable=True),
        sa.Column("ship_to", JSON, nullable=False),
        sa.Column("carrier", sa.String(length=64), nullable=True),
        sa.Column("service", sa.String(length=64), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("released", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site"], ["sites.site"], name=op.f("orders_site_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("orders_pkey")),
        sa.UniqueConstraint("order_id", name=op.f("orders_order_id_key")),
    )
    op.create_index("ix_orders_status_id", "orders", ["status", "id"], unique=False)

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_pk", sa.Integer(), nullable=False),
        sa.Column("webhook_pk", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease", sa.String(length=32), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_pk"], ["webhook_events.id"], name=op.f("webhook_deliveries_event_pk_fkey")
        ),
        sa.ForeignKeyConstraint(
            ["webhook_pk"], ["webhooks.id"], name=op.f("webhook_deliveries_webhook_pk_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("webhook_deliveries_pkey")),
        sa.UniqueConstraint(
            "event_pk", "webhook_pk", name=op.f("webhook_deliveries_event_pk_webhook_pk_key")
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_webhook_deliveries_webhook_pk"), "webhook_deliveries", ["webhook_pk"], unique=False
    )

    op.create_table(
        "idempotency_keys",
        sa.Column("principal", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("order_pk", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_pk"], ["orders.id"], name=op.f("idempotency_keys_order_pk_fkey")
        ),
        sa.PrimaryKeyConstraint("principal", "key", name=op.f("idempotency_keys_pkey")),
    )
    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_pk", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_pk"], ["orders.id"], name=op.f("order_events_order_pk_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("order_events_pkey")),
        sa.UniqueConstraint("event_id", name=op.f("order_events_event_id_key")),
    )
    op.create_index(op.f("ix_order_events_order_pk"), "order_events", ["order_pk"], unique=False)

    op.create_table(
        "order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_pk", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("shipped_qty", sa.Integer(), nullable=False),
        sa.CheckConstraint("qty > 0", name="order_lines_qty_positive"),
        sa.ForeignKeyConstraint(
            ["order_pk"], ["orders.id"], name=op.f("order_lines_order_pk_fkey")
        ),
        sa.ForeignKeyConstraint(["sku"], ["skus.sku"], name=op.f("order_lines_sku_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("order_lines_pkey")),
        sa.UniqueConstraint(
            "order_pk", "version", "line_id", name=op.f("order_lines_order_pk_version_line_id_key")
        ),
    )
    op.create_table(
        "parcels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_pk", sa.Integer(), nullable=False),
        sa.Column("sscc", sa.String(length=18), nullable=False),
        sa.Column("carrier", sa.String(length=64), nullable=False),
        sa.Column("tracking", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("chute", sa.String(length=64), nullable=True),
        sa.Column("door", sa.String(length=64), nullable=True),
        sa.Column("epcs", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_pk"], ["orders.id"], name=op.f("parcels_order_pk_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("parcels_pkey")),
        sa.UniqueConstraint("sscc", name=op.f("parcels_sscc_key")),
    )
    op.create_index(op.f("ix_parcels_order_pk"), "parcels", ["order_pk"], unique=False)

    op.create_table(
        "stock_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("bin_id", sa.Integer(), nullable=True),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=True),
        sa.Column("qty_delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("event_id", sa.String(length=100), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bin_id"], ["bins.id"], name=op.f("stock_ledger_bin_id_fkey")),
        sa.ForeignKeyConstraint(["site"], ["sites.site"], name=op.f("stock_ledger_site_fkey")),
        sa.ForeignKeyConstraint(["sku"], ["skus.sku"], name=op.f("stock_ledger_sku_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("stock_ledger_pkey")),
    )
    op.create_index(op.f("ix_stock_ledger_bin_id"), "stock_ledger", ["bin_id"], unique=False)

    op.create_table(
        "work_items",
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("order_pk", sa.Integer(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_pk"], ["orders.id"], name=op.f("work_items_order_pk_fkey")),
        sa.ForeignKeyConstraint(["site"], ["sites.site"], name=op.f("work_items_site_fkey")),
        sa.PrimaryKeyConstraint("site", "seq", name=op.f("work_items_pkey")),
    )
    op.create_index(op.f("ix_work_items_order_pk"), "work_items", ["order_pk"], unique=False)

    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_pk", sa.Integer(), nullable=False),
        sa.Column("bin_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("picked_qty", sa.Integer(), nullable=False),
        sa.Column("released_qty", sa.Integer(), nullable=False),
        sa.Column("put_back_qty", sa.Integer(), nullable=False),
        sa.Column("put_back_requested_qty", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "picked_qty >= 0 AND released_qty >= 0 AND picked_qty + released_qty <= qty",
            name="reservations_consumed_within_qty",
        ),
        sa.CheckConstraint(
            "put_back_qty >= 0 AND put_back_qty <= picked_qty",
            name="reservations_put_back_within_picked",
        ),
        sa.CheckConstraint("qty > 0", name="reservations_qty_positive"),
        sa.ForeignKeyConstraint(["bin_id"], ["bins.id"], name=op.f("reservations_bin_id_fkey")),
        sa.ForeignKeyConstraint(
            ["line_pk"], ["order_lines.id"], name=op.f("reservations_line_pk_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("reservations_pkey")),
    )
    op.create_index(op.f("ix_reservations_bin_id"), "reservations", ["bin_id"], unique=False)
    op.create_index(op.f("ix_reservations_line_pk"), "reservations", ["line_pk"], unique=False)
    # Partial: only open reservations count against a bin (both dialects keep the WHERE).
    op.create_index(
        "ix_reservations_open_bin",
        "reservations",
        ["bin_id"],
        unique=False,
        sqlite_where=sa.text("qty > picked_qty + released_qty"),
        postgresql_where=sa.text("qty > picked_qty + released_qty"),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes; the order respects the foreign keys.
    op.drop_table("reservations")
    op.drop_table("work_items")
    op.drop_table("stock_ledger")
    op.drop_table("parcels")
    op.drop_table("order_lines")
    op.drop_table("order_events")
    op.drop_table("idempotency_keys")
    op.drop_table("webhook_deliveries")
    op.drop_table("orders")
    op.drop_table("bins")
    op.drop_table("webhooks")
    op.drop_table("webhook_events")
    op.drop_table("stock_documents")
    op.drop_table("skus")
    op.drop_table("sites")
