"""The allocation decision: which bins an order line's quantity is reserved from.

Pure: the caller reads the candidate bins and what is available in each (on hand less the
open reservations), puts them in the order of the removal strategy (`by_strategy`), and
stores what comes back. Short stock is an outcome, not an error: the allocation simply
covers less than asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from controller.domain.errors import InvalidQuantity


class RemovalStrategy(StrEnum):
    """Which bin of a SKU gives first: oldest receipt, soonest expiry, or shortest trip."""

    FIFO = "fifo"
    FEFO = "fefo"
    CLOSEST = "closest"


@dataclass(frozen=True, slots=True)
class BinStock:
    """A candidate bin and how many units in it are not yet reserved, with what the removal
    strategies sort by: when its stock was received, when its lot expires, and how far it
    is from the nearest station (metres along the floor graph)."""

    bin: str
    available: int
    received_at: datetime | None = None
    expires_on: date | None = None
    distance_m: float = 0.0

    def __post_init__(self) -> None:
        if self.available < 0:
            raise InvalidQuantity(f"available at {self.bin}", self.available)


@dataclass(frozen=True, slots=True)
class Allocation:
    bin: str
    qty: int


@dataclass(frozen=True, slots=True)
class LineAllocation:
    qty: int
    allocations: tuple[Allocation, ...]

    @property
    def reserved_qty(self) -> int:
        return sum(a.qty for a in self.allocations)

    @property
    def short_qty(self) -> int:
        return self.qty - self.reserved_qty


@dataclass(frozen=True, slots=True)
class LineRequest:
    line_id: str
    sku: str
    qty: int


def is_expired(expires_on: date | None, today: date) -> bool:
    """A lot is not sold on or after its expiry date."""
    return expires_on is not None and expires_on <= today


def by_strategy(
    candidates: Iterable[BinStock], strategy: RemovalStrategy, today: date
) -> list[BinStock]:
    """The candidates that may be sold, in the order the strategy takes them from.

    Expired lots are left out whatever the strategy. Ties fall back to the bin id, so one
    input always gives one answer."""
    usable = [c for c in candidates if not is_expired(c.expires_on, today)]
    if strategy is RemovalStrategy.FEFO:
        return sorted(usable, key=lambda c: (c.expires_on or date.max, _received(c), c.bin))
    if strategy is RemovalStrategy.CLOSEST:
        return sorted(usable, key=lambda c: (c.distance_m, _received(c), c.bin))
    return sorted(usable, key=lambda c: (_received(c), c.bin))


def _received(candidate: BinStock) -> float:
    # Stock without a receipt time (seeded) counts as the oldest.
    return candidate.received_at.timestamp() if candidate.received_at else float("-inf")


def allocate(qty: int, candidates: Iterable[BinStock]) -> LineAllocation:
    """Take `qty` from the candidates in their order, as much from each as it has.

    Covers less than `qty` when the candidates hold less in total; never more than a bin has.
    """
    if qty <= 0:
        raise InvalidQuantity("line qty", qty)
    remaining = qty
    taken: list[Allocation] = []
    seen: set[str] = set()
    for candidate in candidates:
        if candidate.bin in seen:
            # Listed twice, a bin would be allocated twice: an oversell.
            raise InvalidQuantity(
                f"available at {candidate.bin} (listed twice)", candidate.available
            )
        seen.add(candidate.bin)
        if remaining == 0:
            break
        take = min(remaining, candidate.available)
        if take > 0:
            taken.append(Allocation(candidate.bin, take))
            remaining -= take
    return LineAllocation(qty, tuple(taken))


def allocate_lines(
    lines: Sequence[LineRequest], stock: Mapping[str, Sequence[BinStock]]
) -> dict[str, LineAllocation]:
    """Allocate an order's lines in their order; lines of the same SKU share its bins, so a
    later line sees what an earlier one took. A SKU missing from `stock` has nothing."""
    left: dict[str, dict[str, int]] = {
        sku: {b.bin: b.available for b in bins} for sku, bins in stock.items()
    }
    result: dict[str, LineAllocation] = {}
    for line in lines:
        if line.line_id in result:
            raise InvalidQuantity(f"line {line.line_id} listed twice", line.qty)
        bins = left.get(line.sku, {})
        allocation = allocate(line.qty, [BinStock(b, n) for b, n in bins.items()])
        for a in allocation.allocations:
            bins[a.bin] -= a.qty
        result[line.line_id] = allocation
    return result
