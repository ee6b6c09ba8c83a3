from __future__ import annotations

from controller.traffic.waitfor import wait_cycles


def test_no_waits_no_cycles() -> None:
    assert wait_cycles({}) == []


def test_chain_has_no_cycle() -> None:
    assert wait_cycles({"a": "b", "b": "c", "c": "d"}) == []


def test_two_cycle_in_wait_order() -> None:
    assert wait_cycles({"a": "b", "b": "a"}) == [("a", "b")]


def test_tails_into_a_cycle_are_not_part_of_it_and_it_is_reported_once() -> None:
    waits = {"x": "y", "y": "a", "a": "b", "b": "c", "c": "a", "z": "c"}

    assert wait_cycles(waits) == [("a", "b", "c")]


def test_separate_cycles_are_each_reported() -> None:
    waits = {"a": "b", "b": "a", "c": "d", "d": "e", "e": "c", "f": "a"}

    assert sorted(wait_cycles(waits)) == [("a", "b"), ("c", "d", "e")]


def test_long_chain_is_walked_without_recursion() -> None:
    waits = {i: i + 1 for i in range(100_000)}
    waits[100_000] = 50_000

    [cycle] = wait_cycles(waits)

    assert len(cycle) == 50_001
