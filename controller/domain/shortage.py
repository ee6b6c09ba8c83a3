"""Sharing stock that is short: which reservations give way when a count finds less in a bin
than is reserved from it, and in which order waiting orders are served when stock arrives.

Pure: the caller reads the orders and their reservations, asks here who gives up or who
comes first, and stores the outcome.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from controller.domain.errors import InvalidQuantity
from controller.domain.orders import OrderStatus

# Orders that will not be picked as planned: their stock is the first to give way.
STOPPING_STATUSES = frozenset({OrderStatus.CANCEL_REQUESTED, OrderStatus.EXCEPTION})
# Orders short of stock and waiting for it (their site does not hold them yet).
WAITING_STATUSES = frozenset({OrderStatus.PARTIALLY_RESERVED, OrderStatus.BACKORDERED})


class Standing(IntEnum):
    """How firmly an order holds its stock, weakest first."""

    STOPPING = 0  # cancel requested or in exception
    WAITING = 1  # not released to its site: nothing on the floor depends on it yet
    HELD = 2  # its site holds it and may be working on it


def standing(status: OrderStatus, released: bool) -> Standing:
    if status in STOPPING_STATUSES:
        return Standing.STOPPING
    return Standing.HELD if released else Standing.WAITING


@dataclass(frozen=True, slots=True)
class Urgency:
    """What decides which of two orders is served first."""

    priority: int  # 0-9, 9 most urgent
    ship_by: datetime | None
    created_at: datetime
    tiebreak: int  # the order's key: one input, one answer

    def rank(self) -> tuple[int, float, float, int]:
        """Sorts the most urgent first: highest priority, earliest ship-by (none last),
        oldest, then the tiebreak."""
        ship_by = self.ship_by.timestamp() if self.ship_by is not None else math.inf
        return (-self.priority, ship_by, self.created_at.timestamp(), self.tiebreak)


def most_urgent_first(urgencies: Iterable[Urgency]) -> list[Urgency]:
    return sorted(urgencies, key=Urgency.rank)


@dataclass(frozen=True, slots=True)
class Hold:
    """An open reservation in a short bin: whose it is and how much it holds."""

    reservation: int
    open_qty: int
    standing: Standing
    urgency: Urgency

    def __post_init__(self) -> None:
        if self.open_qty <= 0:
            raise InvalidQuantity(f"open qty of reservation {self.reservation}", self.open_qty)


@dataclass(frozen=True, slots=True)
class Cut:
    reservation: int
    qty: int


def _weakest_first(hold: Hold) -> tuple[int, float, float, float, float, int]:
    priority, ship_by, created, tiebreak = hold.urgency.rank()
    # The reverse of most-urgent-first within a standing; the newest reservation first.
    return (hold.standing, -priority, -ship_by, -created, -tiebreak, -hold.reservation)


def cuts_for(excess: int, holds: Iterable[Hold]) -> tuple[Cut, ...]:
    """The reservations that give up `excess` units, weakest first: orders that are
    stopping, then orders their site does not hold yet, then held ones; within each, the
    lowest priority, the latest ship-by (none is latest), the newest order.

    More excess than the holds hold would mean on hand below zero: a broken invariant."""
    if excess <= 0:
        return ()
    remaining = excess
    cuts: list[Cut] = []
    for hold in sorted(holds, key=_weakest_first):
        take = min(remaining, hold.open_qty)
        cuts.append(Cut(hold.reservation, take))
        remaining -= take
        if remaining == 0:
            return tuple(cuts)
    raise InvalidQuantity("reserved beyond what the reservations hold", remaining)
