from __future__ import annotations

from controller.traffic.kernel import Refusal
from controller.traffic.violations import Violation, ViolationKind
from tests.unit.traffic_kernel.floors import corridor, grid


def test_a_blocked_node_is_never_granted_and_nobody_waits_on_it() -> None:
    kernel = corridor(5)
    kernel.place("a", 0)
    kernel.block_node(2)

    grant = kernel.request("a", [0, 1, 2, 3])

    assert grant.nodes == (0, 1)
    assert (grant.refusal, grant.refused_node, grant.blocker) == (Refusal.NODE_BLOCKED, 2, None)
    assert kernel.waits_for() == {}


def test_an_unblocked_node_is_granted_again() -> None:
    kernel = corridor(5)
    kernel.place("a", 0)
    kernel.block_node(2)
    kernel.unblock_node(2)

    assert kernel.request("a", [0, 1, 2, 3]).complete


def test_a_closed_edge_is_never_granted_either_way() -> None:
    kernel = grid(3, 3)
    kernel.place("a", 0)
    kernel.place("b", 2)
    kernel.close_edge(1, 0)

    into = kernel.request("a", [0, 1])
    out_of = kernel.request("b", [2, 1, 0])

    assert (into.nodes, into.refusal) == ((0,), Refusal.EDGE_CLOSED)
    assert (out_of.nodes, out_of.refusal) == ((2, 1), Refusal.EDGE_CLOSED)
    assert kernel.request("a", [0, 3, 4]).complete  # the way round stays open


def test_a_reopened_edge_is_granted_again() -> None:
    kernel = corridor(3)
    kernel.place("a", 0)
    kernel.close_edge(0, 1)
    kernel.open_edge(0, 1)

    assert kernel.request("a", [0, 1, 2]).complete


def test_blocking_a_node_held_ahead_is_reported_and_the_base_is_kept() -> None:
    kernel = corridor(6)
    kernel.place("a", 0)
    kernel.request("a", [0, 1, 2, 3])

    reported = kernel.block_node(2)

    expected = Violation(ViolationKind.BLOCKED_HELD_AHEAD, ("a",), (2,))
    assert reported == [expected]
    assert kernel.allocation("a") == (0, 1, 2, 3)
    assert kernel.check(0.0) == [expected]  # every tick until the caller replans it
    kernel.release_ahead("a")
    assert kernel.check(1.0) == []


def test_blocking_the_node_an_agv_stands_on_is_not_a_conflict() -> None:
    kernel = corridor(3)
    kernel.place("a", 1)

    assert kernel.block_node(1) == []
    assert kernel.check(0.0) == []


def test_closing_an_edge_held_ahead_is_reported() -> None:
    kernel = corridor(4)
    kernel.place("a", 0)
    kernel.request("a", [0, 1, 2])

    reported = kernel.close_edge(2, 1)

    assert reported == [Violation(ViolationKind.BLOCKED_HELD_AHEAD, ("a",), edges=((1, 2),))]
    assert kernel.allocation("a") == (0, 1, 2)
    kernel.confirm("a", 2)
    assert kernel.check(0.0) == []
