"""The allocation decision: bins in the given order, never more than a bin has."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from controller.domain.errors import InvalidQuantity
from controller.domain.stock import (
    Allocation,
    BinStock,
    LineRequest,
    RemovalStrategy,
    allocate,
    allocate_lines,
    by_strategy,
)


def test_a_line_that_fits_in_the_first_bin_takes_only_that_bin() -> None:
    result = allocate(3, [BinStock("A1-01", 10), BinStock("A1-02", 10)])

    assert result.allocations == (Allocation("A1-01", 3),)
    assert (result.reserved_qty, result.short_qty) == (3, 0)


def test_a_line_spills_over_into_the_next_bins_in_their_order() -> None:
    result = allocate(
        25, [BinStock("B", 10), BinStock("A", 0), BinStock("C", 10), BinStock("D", 9)]
    )

    assert result.allocations == (Allocation("B", 10), Allocation("C", 10), Allocation("D", 5))


def test_short_stock_allocates_what_there_is_and_reports_the_shortfall() -> None:
    result = allocate(12, [BinStock("A", 4), BinStock("B", 5)])

    assert result.allocations == (Allocation("A", 4), Allocation("B", 5))
    assert (result.reserved_qty, result.short_qty) == (9, 3)


def test_no_stock_allocates_nothing() -> None:
    assert allocate(1, []).allocations == ()
    assert allocate(1, [BinStock("A", 0)]).short_qty == 1


@pytest.mark.parametrize("qty", [0, -3])
def test_a_line_quantity_must_be_positive(qty: int) -> None:
    with pytest.raises(InvalidQuantity):
        allocate(qty, [BinStock("A", 5)])


def test_negative_availability_is_a_broken_invariant() -> None:
    with pytest.raises(InvalidQuantity):
        BinStock("A", -1)


def test_a_bin_listed_twice_is_refused_rather_than_allocated_twice() -> None:
    with pytest.raises(InvalidQuantity):
        allocate(8, [BinStock("A", 5), BinStock("A", 5)])


def test_lines_of_one_sku_share_its_bins_in_line_order() -> None:
    stock = {"SKU-1": [BinStock("A", 5), BinStock("B", 5)], "SKU-2": [BinStock("C", 1)]}
    lines = [
        LineRequest("10", "SKU-1", 4),
        LineRequest("20", "SKU-2", 2),
        LineRequest("30", "SKU-1", 4),
        LineRequest("40", "SKU-1", 4),
        LineRequest("50", "SKU-9", 1),
    ]

    result = allocate_lines(lines, stock)

    assert result["10"].allocations == (Allocation("A", 4),)
    assert result["20"].allocations == (Allocation("C", 1),)
    assert result["30"].allocations == (Allocation("A", 1), Allocation("B", 3))
    assert result["40"].allocations == (Allocation("B", 2),)
    assert result["40"].short_qty == 2
    assert result["50"].allocations == ()


def test_the_sum_allocated_per_bin_never_exceeds_what_it_had() -> None:
    stock = {"S": [BinStock(f"B{i}", i) for i in range(6)]}
    lines = [LineRequest(str(n), "S", n % 4 + 1) for n in range(20)]

    result = allocate_lines(lines, stock)

    taken: dict[str, int] = {}
    for line in result.values():
        for a in line.allocations:
            taken[a.bin] = taken.get(a.bin, 0) + a.qty
    assert all(taken[b] <= int(b[1:]) for b in taken)
    assert sum(taken.values()) == sum(range(6))


def test_a_line_id_listed_twice_is_refused() -> None:
    with pytest.raises(InvalidQuantity):
        allocate_lines([LineRequest("10", "S", 1), LineRequest("10", "S", 1)], {})


TODAY = date(2026, 11, 22)


def _order(candidates: list[BinStock], strategy: RemovalStrategy) -> list[str]:
    return [c.bin for c in by_strategy(candidates, strategy, TODAY)]


def test_fifo_takes_the_oldest_receipt_first_and_seeded_stock_before_any() -> None:
    candidates = [
        BinStock("A", 5, received_at=datetime(2026, 11, 20, tzinfo=UTC)),
        BinStock("B", 5, received_at=datetime(2026, 11, 1, tzinfo=UTC)),
        BinStock("C", 5),  # seeded: no receipt time, the oldest
    ]

    assert _order(candidates, RemovalStrategy.FIFO) == ["C", "B", "A"]


def test_fefo_takes_the_soonest_expiry_first_and_never_an_expired_lot() -> None:
    candidates = [
        BinStock("A", 5, expires_on=TODAY + timedelta(days=30)),
        BinStock("B", 5, expires_on=TODAY),  # expires today: no longer sold
        BinStock("C", 5, expires_on=TODAY + timedelta(days=1)),
        BinStock("D", 5, expires_on=TODAY - timedelta(days=3)),
        BinStock("E", 5),  # no expiry: after every dated lot
    ]

    assert _order(candidates, RemovalStrategy.FEFO) == ["C", "A", "E"]


def test_expired_lots_are_left_out_whatever_the_strategy() -> None:
    expired = BinStock("X", 5, expires_on=TODAY - timedelta(days=1), distance_m=0.0)
    fresh = BinStock("Y", 5, expires_on=TODAY + timedelta(days=1), distance_m=50.0)

    for strategy in RemovalStrategy:
        assert _order([expired, fresh], strategy) == ["Y"]


def test_closest_takes_the_shortest_trip_to_a_station_first() -> None:
    candidates = [BinStock("A", 5, distance_m=30.0), BinStock("B", 5, distance_m=12.5)]

    assert _order(candidates, RemovalStrategy.CLOSEST) == ["B", "A"]


@pytest.mark.parametrize("strategy", list(RemovalStrategy))
def test_ties_fall_back_to_the_bin_id(strategy: RemovalStrategy) -> None:
    received = datetime(2026, 11, 1, tzinfo=UTC)
    expiry = TODAY + timedelta(days=7)
    candidates = [
        BinStock(code, 5, received_at=received, expires_on=expiry, distance_m=10.0)
        for code in ("C", "A", "B")
    ]

    assert _order(candidates, strategy) == ["A", "B", "C"]
    assert _order(list(reversed(candidates)), strategy) == ["A", "B", "C"]
