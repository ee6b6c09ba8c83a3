"""An order's life as data: its statuses, the moves between them, and its parcels' statuses.

Pure: no I/O, no clock. The API and the edge ask `advance` before they store a new status;
a move that the tables below do not list raises `InvalidTransition`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from controller.domain.errors import InvalidQuantity, InvalidTransition


class OrderStatus(StrEnum):
    """DESIGN §3: received → reserved | partially_reserved | backordered → picking → picked →
    packed → sorted → shipped, with cancelled and exception possible on the way."""

    RECEIVED = "received"
    RESERVED = "reserved"
    PARTIALLY_RESERVED = "partially_reserved"
    BACKORDERED = "backordered"
    PICKING = "picking"
    PICKED = "picked"
    PACKED = "packed"
    SORTED = "sorted"
    SHIPPED = "shipped"
    CANCEL_REQUESTED = "cancel_requested"
    CANCELLED = "cancelled"
    EXCEPTION = "exception"


_S = OrderStatus
# Statuses an order can still be cancelled or put into exception from: all but the final ones.
_OPEN = frozenset(
    s for s in _S if s not in {_S.SHIPPED, _S.CANCELLED, _S.CANCEL_REQUESTED, _S.EXCEPTION}
)

_FORWARD: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    _S.RECEIVED: frozenset({_S.RESERVED, _S.PARTIALLY_RESERVED, _S.BACKORDERED}),
    # A short order becomes reserved when stock arrives (or shrinks back when it is released).
    _S.PARTIALLY_RESERVED: frozenset({_S.RESERVED, _S.BACKORDERED}),
    _S.BACKORDERED: frozenset({_S.RESERVED, _S.PARTIALLY_RESERVED}),
    _S.RESERVED: frozenset({_S.PICKING}),
    _S.PICKING: frozenset({_S.PICKED}),
    _S.PICKED: frozenset({_S.PACKED}),
    _S.PACKED: frozenset({_S.SORTED}),
    _S.SORTED: frozenset({_S.SHIPPED}),
    _S.SHIPPED: frozenset(),
    # The site was asked to stop: it confirms (cancelled), the goods had already left
    # (shipped), or it reports a problem on the way (exception; it still confirms later).
    _S.CANCEL_REQUESTED: frozenset({_S.CANCELLED, _S.SHIPPED, _S.EXCEPTION}),
    _S.CANCELLED: frozenset(),
    # Leaving an exception (re-pack, re-pick) is a later decision; cancelling is always possible.
    _S.EXCEPTION: frozenset({_S.CANCELLED, _S.CANCEL_REQUESTED}),
}
# Cancel (directly, or through the site when it holds the order) and exception are
# reachable from every open status.
ORDER_TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    status: targets
    | ({_S.CANCELLED, _S.CANCEL_REQUESTED, _S.EXCEPTION} if status in _OPEN else frozenset())
    for status, targets in _FORWARD.items()
}

FINAL_STATUSES = frozenset({_S.SHIPPED, _S.CANCELLED})


def can_advance(current: OrderStatus, requested: OrderStatus) -> bool:
    return requested in ORDER_TRANSITIONS[current]


def advance(order_id: str, current: OrderStatus, requested: OrderStatus) -> OrderStatus:
    """The order's new status, or `InvalidTransition` when it cannot get there from `current`."""
    if not can_advance(current, requested):
        raise InvalidTransition(order_id, current.value, requested.value)
    return requested


@dataclass(frozen=True, slots=True)
class LineReservation:
    """How much of an order line is wanted and how much of it is reserved."""

    qty: int
    reserved_qty: int

    def __post_init__(self) -> None:
        if self.qty <= 0:
            raise InvalidQuantity("line qty", self.qty)
        if not 0 <= self.reserved_qty <= self.qty:
            raise InvalidQuantity("line reserved_qty", self.reserved_qty)


def reservation_status(lines: Iterable[LineReservation]) -> OrderStatus:
    """All lines fully reserved → reserved; nothing reserved → backordered; else partially."""
    lines = tuple(lines)
    if not lines:
        raise InvalidQuantity("order lines", 0)
    if all(line.reserved_qty == line.qty for line in lines):
        return OrderStatus.RESERVED
    if all(line.reserved_qty == 0 for line in lines):
        return OrderStatus.BACKORDERED
    return OrderStatus.PARTIALLY_RESERVED


class ParcelStatus(StrEnum):
    """A carton from the pack gate to the truck (docs/protocols.md, event ingest)."""

    PACKED = "packed"
    SORTED = "sorted"
    LOADED = "loaded"
    SHIPPED = "shipped"


PARCEL_TRANSITIONS: Mapping[ParcelStatus, frozenset[ParcelStatus]] = {
    ParcelStatus.PACKED: frozenset({ParcelStatus.SORTED}),
    ParcelStatus.SORTED: frozenset({ParcelStatus.LOADED}),
    ParcelStatus.LOADED: frozenset({ParcelStatus.SHIPPED}),
    ParcelStatus.SHIPPED: frozenset(),
}


def advance_parcel(sscc: str, current: ParcelStatus, requested: ParcelStatus) -> ParcelStatus:
    if requested not in PARCEL_TRANSITIONS[current]:
        raise InvalidTransition(sscc, current.value, requested.value)
    return requested
