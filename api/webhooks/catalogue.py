"""The event types an ERP can subscribe to, and which subscriptions an event reaches."""

from __future__ import annotations

from collections.abc import Iterable

ALL_EVENTS = "*"  # a subscription to every type, including types added later
EVENT_TYPES = frozenset(
    {
        "order.status_changed",
        "order.shipped",
        "order.cancelled",
        "order.backordered",
        "stock.low",
        "stock.shortage",
    }
)
SUBSCRIBABLE = EVENT_TYPES | {ALL_EVENTS}


def matches(subscribed: Iterable[str], event_type: str) -> bool:
    return any(s in (ALL_EVENTS, event_type) for s in subscribed)
