from __future__ import annotations

from itertools import pairwise

import pytest

from controller.traffic.errors import AgvAlreadyPlaced, UnknownAgv, UnknownEdge, UnknownNode
from controller.traffic.kernel import Refusal, ReservationKernel
from controller.traffic.violations import Violation, ViolationKind
from tests.unit.traffic_kernel.floors import corridor, grid


def test_free_path_is_granted_whole_with_the_edge_into_each_node() -> None:
    kernel = corridor(6)
    kernel.place("a", 0)

    grant = kernel.request("a", [0, 1, 2, 3])

    assert grant.complete
    assert grant.nodes == (0, 1, 2, 3)
    assert grant.edges == ((0, 1), (1, 2), (2, 3))
    assert kernel.allocation("a") == (0, 1, 2, 3)
    assert [kernel.holder(n) for n in range(6)] == ["a", "a", "a", "a", None, None]
    assert [kernel.edge_holder(n, n + 1) for n in range(5)] == ["a", "a", "a", None, None]


def test_grant_stops_at_the_first_node_another_agv_holds() -> None:
    kernel = corridor(6)
    kernel.place("a", 0)
    kernel.place("b", 3)

    grant = kernel.request("a", [0, 1, 2, 3, 4])

    assert grant.nodes == (0, 1, 2)
    assert (grant.refusal, grant.refused_node, grant.blocker) == (Refusal.HELD, 3, "b")
    assert kernel.allocation("a") == (0, 1, 2)
    assert kernel.holder(4) is None
    assert kernel.waits_for() == {"a": "b"}


def test_grant_stops_at_a_node_another_agv_holds_ahead_not_only_under_it() -> None:
    kernel = corridor(8)
    kernel.place("a", 0)
    kernel.place("b", 6)
    kernel.request("b", [6, 5, 4])

    grant = kernel.request("a", [0, 1, 2, 3, 4, 5])

    assert grant.nodes == (0, 1, 2, 3)
    assert grant.blocker == "b"


def test_grant_stops_before_a_node_that_is_not_adjacent() -> None:
    kernel = grid(4, 4)
    kernel.place("a", 0)

    grant = kernel.request("a", [0, 1, 6, 7])  # 1 → 6 is a diagonal

    assert grant.nodes == (0, 1)
    assert (grant.refusal, grant.refused_node) == (Refusal.NOT_ADJACENT, 6)
    assert kernel.allocation("a") == (0, 1)


def test_node_off_the_floor_is_not_adjacent() -> None:
    kernel = corridor(3)
    kernel.place("a", 2)

    grant = kernel.request("a", [2, 3])

    assert grant.refusal is Refusal.NOT_ADJACENT
    assert kernel.allocation("a") == (2,)


def test_own_nodes_are_granted_again_as_they_are_and_the_rest_extends() -> None:
    kernel = corridor(8)
    kernel.place("a", 0)
    kernel.request("a", [0, 1, 2])

    again = kernel.request("a", [0, 1, 2])
    after_again = kernel.allocation("a")
    longer = kernel.request("a", [0, 1, 2, 3, 4])

    assert again.complete
    assert again.nodes == (0, 1, 2)
    assert after_again == (0, 1, 2)
    assert longer.complete
    assert kernel.allocation("a") == (0, 1, 2, 3, 4)


def test_a_shorter_request_keeps_what_is_already_granted() -> None:
    kernel = corridor(8)
    kernel.place("a", 0)
    kernel.request("a", [0, 1, 2, 3])

    grant = kernel.request("a", [0, 1])

    assert grant.nodes == (0, 1)
    assert kernel.allocation("a") == (0, 1, 2, 3)


def test_request_may_start_at_the_end_of_the_allocation() -> None:
    kernel = corridor(8)
    kernel.place("a", 0)
    kernel.request("a", [0, 1, 2])

    grant = kernel.request("a", [2, 3, 4])

    assert grant.nodes == (2, 3, 4)
    assert kernel.allocation("a") == (0, 1, 2, 3, 4)


def test_path_turning_off_the_allocation_before_its_end_is_refused_there() -> None:
    kernel = grid(4, 4)
    kernel.place("a", 0)
    kernel.request("a", [0, 1, 2])

    grant = kernel.request("a", [0, 1, 5, 9])  # leaves the granted 1 → 2

    assert grant.nodes == (0, 1)
    assert (grant.refusal, grant.refused_node) == (Refusal.LEAVES_ALLOCATION, 5)
    assert kernel.allocation("a") == (0, 1, 2)
    assert kernel.holder(5) is None


def test_path_not_starting_on_the_allocation_grants_nothing() -> None:
    kernel = corridor(5)
    kernel.place("a", 0)

    assert kernel.request("a", [1, 2]).refusal is Refusal.NOT_FROM_ALLOCATION
    assert kernel.request("a", []).refusal is Refusal.NOT_FROM_ALLOCATION
    assert kernel.allocation("a") == (0,)


def test_path_coming_back_to_a_held_node_is_refused_at_the_revisit() -> None:
    kernel = corridor(5)
    kernel.place("a", 1)

    grant = kernel.request("a", [1, 2, 1])

    assert grant.nodes == (1, 2)
    assert grant.refusal is Refusal.REVISITS
    assert kernel.allocation("a") == (1, 2)


def test_planner_waits_repeated_nodes_are_collapsed() -> None:
    kernel = corridor(5)
    kernel.place("a", 0)

    grant = kernel.request("a", [0, 0, 1, 1, 2])

    assert grant.complete
    assert grant.nodes == (0, 1, 2)


def test_granted_prefix_is_contiguous_and_starts_at_path_start() -> None:
    kernel = grid(5, 5)
    kernel.place("a", 12)
    kernel.place("b", 14)

    grant = kernel.request("a", [12, 13, 14, 19])

    assert grant.nodes == (12, 13)
    assert all(b in (a - 1, a + 1, a - 5, a + 5) for a, b in pairwise(grant.nodes))


def test_placing_on_a_held_node_is_reported_and_places_nothing() -> None:
    kernel = corridor(5)
    kernel.place("a", 0)
    kernel.request("a", [0, 1, 2])

    violation = kernel.place("b", 2)

    assert violation == Violation(ViolationKind.PLACE_CONFLICT, ("b", "a"), (2,))
    assert "b" not in kernel
    assert kernel.holder(2) == "a"
    assert kernel.violation_counts() == {ViolationKind.PLACE_CONFLICT: 1}


def test_caller_mistakes_raise() -> None:
    kernel = corridor(3)
    kernel.place("a", 0)

    with pytest.raises(AgvAlreadyPlaced):
        kernel.place("a", 1)
    with pytest.raises(UnknownAgv):
        kernel.request("ghost", [0])
    with pytest.raises(UnknownNode):
        kernel.place("b", 3)
    with pytest.raises(UnknownNode):
        kernel.holder(-1)
    with pytest.raises(UnknownEdge):
        kernel.close_edge(0, 2)
    with pytest.raises(UnknownEdge):
        ReservationKernel(2, [(0, 2)])


def test_floor_from_adjacency_matches_floor_from_edges() -> None:
    kernel = ReservationKernel.from_adjacency([[1], [0, 2], [1]])
    kernel.place("a", 0)

    assert kernel.request("a", [0, 1, 2]).complete
