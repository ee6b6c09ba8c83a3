"""Stock signals raised by a write: a SKU's availability at a site falling below its safety
stock (`stock.low`), and a count leaving less in a bin than is reserved from it
(`stock.shortage`). They are reported once, when the line is crossed, not on every write
below it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from api.stock.availability import SkuStock
from api.webhooks import enqueue_webhook_event
from controller.domain.layout import Site


@dataclass(frozen=True, slots=True)
class LowStock:
    site: str
    sku: str
    available: int
    safety_stock: int


@dataclass(frozen=True, slots=True)
class Shortage:
    site: str
    sku: str
    bin: str
    short_qty: int  # reserved beyond on hand, before re-allocation
    reallocated_qty: int  # of that, reserved again from other bins
    orders: tuple[str, ...]  # the orders whose reservations were cut


@dataclass
class StockSignals:
    low: list[LowStock] = field(default_factory=list)
    shortages: list[Shortage] = field(default_factory=list)

    def extend(self, other: StockSignals) -> None:
        self.low.extend(other.low)
        self.shortages.extend(other.shortages)


def low_stock_crossings(
    stock: Mapping[tuple[str, str], SkuStock],
    before: Mapping[tuple[str, str], int],
    today: date,
    sites: Mapping[str, Site],
) -> list[LowStock]:
    """The (site, SKU)s whose availability went from at or above safety stock to below it."""
    crossed = []
    for (site_id, sku), entry in sorted(stock.items()):
        site = sites.get(site_id)
        if site is None or not site.has_sku(sku):
            continue
        safety = site.sku(sku).safety_stock
        after = entry.total_available(today)
        if safety > 0 and before[(site_id, sku)] >= safety > after:
            crossed.append(LowStock(site_id, sku, after, safety))
    return crossed


async def announce_low_stock(session: AsyncSession, low: list[LowStock], now: datetime) -> None:
    """`stock.low` webhook events, in the transaction that caused them."""
    for signal in low:
        await enqueue_webhook_event(session, "stock.low", asdict(signal), occurred_at=now)
