"""Sharing short stock: who gives way to a short count, who is served first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.domain.errors import InvalidQuantity
from controller.domain.orders import OrderStatus
from controller.domain.shortage import (
    Cut,
    Hold,
    Standing,
    Urgency,
    cuts_for,
    most_urgent_first,
    standing,
)

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def urgency(
    tiebreak: int, priority: int = 5, ship_by: datetime | None = None, age_h: int = 0
) -> Urgency:
    return Urgency(priority, ship_by, T0 - timedelta(hours=age_h), tiebreak)


def test_most_urgent_is_highest_priority_then_earliest_ship_by_then_oldest() -> None:
    low = urgency(1, priority=1)
    no_deadline = urgency(2)
    late = urgency(3, ship_by=T0 + timedelta(days=5))
    soon = urgency(4, ship_by=T0 + timedelta(days=1))
    soon_older = urgency(5, ship_by=T0 + timedelta(days=1), age_h=3)
    top = urgency(6, priority=9)

    ranked = most_urgent_first([low, no_deadline, late, soon, soon_older, top])

    assert [u.tiebreak for u in ranked] == [6, 5, 4, 3, 2, 1]


@pytest.mark.parametrize(
    ("status", "released", "expected"),
    [
        (OrderStatus.CANCEL_REQUESTED, True, Standing.STOPPING),
        (OrderStatus.EXCEPTION, True, Standing.STOPPING),
        (OrderStatus.PARTIALLY_RESERVED, False, Standing.WAITING),
        (OrderStatus.RESERVED, True, Standing.HELD),
        (OrderStatus.PICKING, True, Standing.HELD),
    ],
)
def test_standing_follows_status_and_release(
    status: OrderStatus, released: bool, expected: Standing
) -> None:
    assert standing(status, released) is expected


def test_an_unreleased_order_gives_way_before_a_held_one_whatever_its_priority() -> None:
    held = Hold(1, 30, Standing.HELD, urgency(1, priority=0))
    waiting = Hold(2, 10, Standing.WAITING, urgency(2, priority=9))
    stopping = Hold(3, 4, Standing.STOPPING, urgency(3, priority=9))

    assert cuts_for(16, [held, waiting, stopping]) == (Cut(3, 4), Cut(2, 10), Cut(1, 2))


def test_among_held_orders_the_least_urgent_gives_way_first() -> None:
    urgent = Hold(1, 10, Standing.HELD, urgency(1, priority=9))
    later = Hold(2, 10, Standing.HELD, urgency(2, ship_by=T0 + timedelta(days=9)))
    sooner = Hold(3, 10, Standing.HELD, urgency(3, ship_by=T0 + timedelta(days=1)))
    newest = Hold(4, 10, Standing.HELD, urgency(4, ship_by=T0 + timedelta(days=1), age_h=-1))

    assert cuts_for(25, [urgent, sooner, later, newest]) == (Cut(2, 10), Cut(4, 10), Cut(3, 5))


def test_nothing_is_cut_without_excess() -> None:
    assert cuts_for(0, [Hold(1, 5, Standing.HELD, urgency(1))]) == ()


def test_more_excess_than_is_held_is_a_broken_invariant() -> None:
    with pytest.raises(InvalidQuantity):
        cuts_for(6, [Hold(1, 5, Standing.HELD, urgency(1))])
