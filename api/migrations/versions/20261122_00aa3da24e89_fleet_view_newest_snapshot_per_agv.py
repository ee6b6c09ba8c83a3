"""The fleet view: the newest snapshot of each AGV, as its site's edge pushed it.

Revision ID: 00aa3da24e89
Revises: 3b7c1e2a9f40
Create Date: 2026-11-22 10:00:22.893724
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "00aa3da24e89"
down_revision: str | Sequence[str] | None = "3b7c1e2a9f40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The models' `Json`: JSONB on PostgreSQL, JSON (text) on SQLite.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "agv_status",
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("serial_number", sa.String(length=64), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", JSON, nullable=False),
        sa.ForeignKeyConstraint(["site"], ["sites.site"], name=op.f("agv_status_site_fkey")),
        sa.PrimaryKeyConstraint("site", "serial_number", name=op.f("agv_status_pkey")),
    )


def downgrade() -> None:
    op.drop_table("agv_status")
