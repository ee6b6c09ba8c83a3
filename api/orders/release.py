"""What a site's work feed says about an order (docs/protocols.md, "Work feed")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from api.models import BinRow, OrderRow
from api.orders.schemas import OrderCreateRequest
from controller.domain.layout import Site
from controller.domain.stock import LineAllocation


def released_payload(
    request: OrderCreateRequest,
    allocations: Mapping[str, LineAllocation],
    bins: Mapping[str, BinRow],
    site: Site,
    *,
    revision: int,
) -> dict[str, Any]:
    """An `order.released` item's order. `version` is the site-facing revision: a higher one
    replaces what the site holds of the order, if it has not started on it."""
    return _payload(
        request.order_id,
        request.priority,
        request.carrier,
        request.service,
        request.ship_by,
        [
            (
                line.line_id,
                line.sku,
                line.qty,
                [
                    {"bin": a.bin, "tote_id": bins[a.bin].tote_id, "qty": a.qty}
                    for a in allocations[line.line_id].allocations
                ],
            )
            for line in request.lines
        ],
        site,
        revision,
    )


def stored_released_payload(order: OrderRow, site: Site) -> dict[str, Any]:
    """The same, for a stored order loaded with its lines, their reservations and bins (a
    backorder filled, or a re-release after a count moved its stock), at its `revision`."""
    lines = []
    for line in order.lines:
        by_bin: dict[str, dict[str, Any]] = {}
        for r in line.reservations:
            held = r.qty - r.released_qty
            if held > 0:
                entry = by_bin.setdefault(
                    r.bin.bin, {"bin": r.bin.bin, "tote_id": r.bin.tote_id, "qty": 0}
                )
                entry["qty"] += held
        lines.append((line.line_id, line.sku, line.qty, list(by_bin.values())))
    return _payload(
        order.order_id,
        order.priority,
        order.carrier,
        order.service,
        order.ship_by,
        lines,
        site,
        order.revision,
    )


def _payload(
    order_id: str,
    priority: int,
    carrier: str | None,
    service: str | None,
    ship_by: datetime | None,
    lines: Sequence[tuple[str, str, int, list[dict[str, Any]]]],
    site: Site,
    revision: int,
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "version": revision,
        "priority": priority,
        "carrier": carrier,
        "service": service,
        "ship_by": ship_by.isoformat().replace("+00:00", "Z") if ship_by else None,
        "lines": [
            {
                "line_id": line_id,
                "sku": sku,
                "gtin": site.sku(sku).gtin,
                "qty": qty,
                "allocations": allocations,
            }
            for line_id, sku, qty, allocations in lines
        ],
    }
