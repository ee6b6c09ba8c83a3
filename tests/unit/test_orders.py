"""The order life cycle as data: statuses, allowed moves, the reservation outcome."""

from __future__ import annotations

import pytest

from controller.domain.errors import InvalidQuantity, InvalidTransition
from controller.domain.orders import (
    FINAL_STATUSES,
    ORDER_TRANSITIONS,
    LineReservation,
    OrderStatus,
    ParcelStatus,
    advance,
    advance_parcel,
    reservation_status,
)

S = OrderStatus
HAPPY_PATH = [S.RECEIVED, S.RESERVED, S.PICKING, S.PICKED, S.PACKED, S.SORTED, S.SHIPPED]


def test_statuses_are_those_of_design_section_3_and_a_cancel_awaiting_its_site() -> None:
    assert {s.value for s in OrderStatus} == {
        "received", "reserved", "partially_reserved", "backordered", "picking", "picked",
        "packed", "sorted", "shipped", "cancelled", "exception", "cancel_requested",
    }  # fmt: skip


def test_an_order_walks_the_happy_path_one_step_at_a_time() -> None:
    status = S.RECEIVED
    for nxt in HAPPY_PATH[1:]:
        status = advance("SO-1", status, nxt)
    assert status is S.SHIPPED


@pytest.mark.parametrize(
    ("current", "requested"),
    [
        (S.RESERVED, S.PICKED),  # skips picking
        (S.PICKING, S.PACKED),
        (S.BACKORDERED, S.PICKING),  # nothing reserved to pick
        (S.PARTIALLY_RESERVED, S.PICKING),
        (S.SORTED, S.PACKED),  # backwards
        (S.PICKING, S.PICKING),  # standing still is not a move
        (S.SHIPPED, S.CANCELLED),  # too late
        (S.CANCELLED, S.RESERVED),
        (S.RECEIVED, S.PICKING),
    ],
)
def test_a_move_off_the_table_raises_invalid_transition_with_its_data(
    current: OrderStatus, requested: OrderStatus
) -> None:
    with pytest.raises(InvalidTransition) as raised:
        advance("SO-9", current, requested)
    assert (raised.value.entity_id, raised.value.current, raised.value.requested) == (
        "SO-9",
        current.value,
        requested.value,
    )


@pytest.mark.parametrize("status", [s for s in OrderStatus if s not in FINAL_STATUSES])
def test_every_unfinished_order_can_be_cancelled(status: OrderStatus) -> None:
    assert advance("SO-1", status, S.CANCELLED) is S.CANCELLED


def test_exception_is_reachable_from_every_open_status_and_final_ones_are_dead_ends() -> None:
    open_statuses = [s for s in OrderStatus if s not in FINAL_STATUSES | {S.EXCEPTION}]
    assert all(S.EXCEPTION in ORDER_TRANSITIONS[s] for s in open_statuses)
    assert all(not ORDER_TRANSITIONS[s] for s in FINAL_STATUSES)


def test_every_status_has_an_entry_in_the_table() -> None:
    assert set(ORDER_TRANSITIONS) == set(OrderStatus)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([(2, 2), (5, 5)], S.RESERVED),
        ([(2, 2), (5, 3)], S.PARTIALLY_RESERVED),
        ([(2, 0), (5, 3)], S.PARTIALLY_RESERVED),
        ([(2, 0), (5, 0)], S.BACKORDERED),
    ],
)
def test_reservation_status_follows_how_much_of_each_line_is_reserved(
    lines: list[tuple[int, int]], expected: OrderStatus
) -> None:
    assert reservation_status(LineReservation(q, r) for q, r in lines) is expected


@pytest.mark.parametrize(("qty", "reserved"), [(0, 0), (-1, 0), (2, 3), (2, -1)])
def test_a_line_reservation_out_of_range_is_refused(qty: int, reserved: int) -> None:
    with pytest.raises(InvalidQuantity):
        LineReservation(qty, reserved)


def test_an_order_without_lines_has_no_reservation_status() -> None:
    with pytest.raises(InvalidQuantity):
        reservation_status([])


def test_a_parcel_goes_packed_sorted_loaded_shipped_and_nowhere_else() -> None:
    status = ParcelStatus.PACKED
    for nxt in (ParcelStatus.SORTED, ParcelStatus.LOADED, ParcelStatus.SHIPPED):
        status = advance_parcel("001", status, nxt)
    with pytest.raises(InvalidTransition):
        advance_parcel("001", ParcelStatus.PACKED, ParcelStatus.SHIPPED)
    with pytest.raises(InvalidTransition):
        advance_parcel("001", ParcelStatus.SHIPPED, ParcelStatus.SORTED)
