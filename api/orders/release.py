"""What a site's work feed says about an order (docs/protocols.md, "Work feed")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from api.models import BinRow
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
    return {
        "order_id": request.order_id,
        "version": revision,
        "priority": request.priority,
        "carrier": request.carrier,
        "service": request.service,
        "ship_by": request.ship_by.isoformat().replace("+00:00", "Z") if request.ship_by else None,
        "lines": [
            {
                "line_id": line.line_id,
                "sku": line.sku,
                "gtin": site.sku(line.sku).gtin,
                "qty": line.qty,
                "allocations": [
                    {"bin": a.bin, "tote_id": bins[a.bin].tote_id, "qty": a.qty}
                    for a in allocations[line.line_id].allocations
                ],
            }
            for line in request.lines
        ],
    }
