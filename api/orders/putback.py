"""Put-back work: units picked for an order that was then cancelled go back into their totes.

The site is sent `putback.requested` listing, per line and bin, the units picked and not yet
put back; it confirms each with `line.put_back`, which returns the units to the bin's on hand
(ledger `put_back`, out of the staging area)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import BinRow, OrderLineRow, OrderRow, ReservationRow
from api.sites.feed import PUTBACK_REQUESTED, append_work_item
from controller.domain.layout import Site


async def request_putback(
    session: AsyncSession, order: OrderRow, site: Site, now: datetime
) -> int | None:
    """Append a put-back for what of the order is picked and not put back (or already asked
    for); the work item's seq, or None when there is nothing to put back."""
    rows = (
        await session.execute(
            select(OrderLineRow, ReservationRow, BinRow)
            .join(ReservationRow, ReservationRow.line_pk == OrderLineRow.id)
            .join(BinRow, BinRow.id == ReservationRow.bin_id)
            .where(OrderLineRow.order_pk == order.id)
            .order_by(OrderLineRow.position, ReservationRow.id)
        )
    ).all()
    lines: dict[tuple[str, str], dict[str, Any]] = {}
    for line, r, bin_row in rows:
        owed = r.picked_qty - r.put_back_qty - r.put_back_requested_qty
        if owed <= 0:
            continue
        r.put_back_requested_qty += owed
        entry = lines.setdefault(
            (line.line_id, bin_row.bin),
            {
                "line_id": line.line_id,
                "sku": line.sku,
                "gtin": site.sku(line.sku).gtin if site.has_sku(line.sku) else "",
                "bin": bin_row.bin,
                "tote_id": bin_row.tote_id,
                "qty": 0,
            },
        )
        entry["qty"] += owed
    if not lines:
        return None
    payload = {
        "putback_id": f"PB-{uuid.uuid4().hex[:16]}",
        "order_id": order.order_id,
        "lines": list(lines.values()),
    }
    return await append_work_item(
        session,
        site=order.site,
        type=PUTBACK_REQUESTED,
        order_pk=order.id,
        payload=payload,
        now=now,
    )
