"""The ownership audit, fed the disagreements a kernel bug would leave behind."""

from __future__ import annotations

from controller.traffic.audit import audit_ownership
from controller.traffic.violations import Violation, ViolationKind
from tests.unit.traffic_kernel.floors import corridor


def test_agreeing_owners_and_allocations_pass() -> None:
    owners = ["a", "a", None, "b"]

    assert audit_ownership({"a": [0, 1], "b": [3]}, owners, {(0, 1): "a"}) == []


def test_a_node_in_two_allocations_is_a_double_allocation() -> None:
    found = audit_ownership({"a": [0, 1], "b": [1]}, ["a", "a"], {(0, 1): "a"})

    assert found == [Violation(ViolationKind.DOUBLE_ALLOCATION, ("a", "b"), (1,))]


def test_an_edge_in_two_allocations_is_a_double_allocation() -> None:
    found = audit_ownership({"a": [0, 1], "b": [1, 0]}, ["a", "b"], {(0, 1): "a"})

    assert Violation(ViolationKind.DOUBLE_ALLOCATION, ("a", "b"), edges=((0, 1),)) in found


def test_an_owner_outside_every_allocation_is_a_mismatch() -> None:
    found = audit_ownership({"a": [0]}, ["a", "b"], {})

    assert found == [Violation(ViolationKind.OWNER_MISMATCH, ("b",), (1,))]


def test_an_allocated_node_owned_by_another_is_a_mismatch() -> None:
    found = audit_ownership({"a": [0]}, ["b"], {})

    assert found == [Violation(ViolationKind.OWNER_MISMATCH, ("a", "b"), (0,))]


def test_a_missing_edge_hold_is_a_mismatch() -> None:
    found = audit_ownership({"a": [0, 1]}, ["a", "a"], {})

    assert found == [Violation(ViolationKind.OWNER_MISMATCH, ("a",), edges=((0, 1),))]


def test_check_reports_an_allocation_that_lost_its_agvs_node() -> None:
    kernel = corridor(3)
    kernel.place("a", 0)
    kernel._agvs["a"].current = 2  # what a bug in confirm could leave behind

    assert kernel.check(0.0) == [Violation(ViolationKind.CURRENT_NOT_HELD, ("a",), (2,))]
