"""The open-reservations index covers the quantities: a bin's open sum reads only the index.

Revision ID: 3b7c1e2a9f40
Revises: d90deccf5b22
Create Date: 2026-11-22 08:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b7c1e2a9f40"
down_revision: str | Sequence[str] | None = "d90deccf5b22"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("qty > picked_qty + released_qty")


def _recreate(columns: list[str]) -> None:
    op.drop_index("ix_reservations_open_bin", table_name="reservations")
    op.create_index(
        "ix_reservations_open_bin",
        "reservations",
        columns,
        unique=False,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def upgrade() -> None:
    _recreate(["bin_id", "qty", "picked_qty", "released_qty"])


def downgrade() -> None:
    _recreate(["bin_id"])
