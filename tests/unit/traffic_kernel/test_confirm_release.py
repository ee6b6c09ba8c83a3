from __future__ import annotations

import pytest

from controller.traffic.errors import AgvOffline
from controller.traffic.violations import Violation, ViolationKind
from tests.unit.traffic_kernel.floors import corridor


def test_confirm_frees_the_nodes_and_edges_behind_only() -> None:
    kernel = corridor(8)
    kernel.place("a", 0)
    kernel.request("a", [0, 1, 2, 3, 4])

    assert kernel.confirm("a", 2) is None

    assert kernel.allocation("a") == (2, 3, 4)
    assert kernel.current_node("a") == 2
    assert [kernel.holder(n) for n in range(5)] == [None, None, "a", "a", "a"]
    assert [kernel.edge_holder(n, n + 1) for n in range(4)] == [None, None, "a", "a"]


def test_confirm_at_the_current_node_changes_nothing() -> None:
    kernel = corridor(5)
    kernel.place("a", 0)
    kernel.request("a", [0, 1, 2])

    kernel.confirm("a", 0)

    assert kernel.allocation("a") == (0, 1, 2)


def test_freed_nodes_can_be_granted_to_the_next_agv() -> None:
    kernel = corridor(6)
    kernel.place("a", 2)
    kernel.place("b", 0)
    kernel.request("a", [2, 3, 4])
    assert kernel.request("b", [0, 1, 2, 3]).nodes == (0, 1)

    kernel.confirm("a", 4)

    assert kernel.request("b", [1, 2, 3]).complete
    assert kernel.waits_for() == {}


def test_confirm_at_a_node_not_held_is_reported_and_changes_nothing() -> None:
    kernel = corridor(8)
    kernel.place("a", 0)
    kernel.place("b", 6)
    kernel.request("a", [0, 1, 2])

    unheld = kernel.confirm("a", 4)
    others = kernel.confirm("a", 6)

    assert unheld == Violation(ViolationKind.CONFIRM_NOT_HELD, ("a",), (4,))
    assert others == Violation(ViolationKind.CONFIRM_NOT_HELD, ("a", "b"), (6,))
    assert kernel.allocation("a") == (0, 1, 2)
    assert kernel.current_node("a") == 0
    assert kernel.holder(4) is None
    assert kernel.holder(6) == "b"
    assert kernel.violation_counts() == {ViolationKind.CONFIRM_NOT_HELD: 2}


def test_release_ahead_keeps_the_current_node_and_withdraws_the_wait() -> None:
    kernel = corridor(8)
    kernel.place("a", 0)
    kernel.place("b", 5)
    kernel.request("a", [0, 1, 2, 3, 4, 5])
    kernel.confirm("a", 1)

    freed = kernel.release_ahead("a")

    assert freed == (2, 3, 4)
    assert kernel.allocation("a") == (1,)
    assert kernel.holder(1) == "a"
    assert [kernel.holder(n) for n in (2, 3, 4)] == [None, None, None]
    assert kernel.edge_holder(1, 2) is None
    assert kernel.waits_for() == {}


def test_remove_frees_everything() -> None:
    kernel = corridor(5)
    kernel.place("a", 0)
    kernel.request("a", [0, 1, 2])

    kernel.remove("a")

    assert "a" not in kernel
    assert [kernel.holder(n) for n in range(5)] == [None] * 5
    assert kernel.edge_holder(0, 1) is None
    assert kernel.check(0.0) == []


def test_offline_agv_keeps_its_allocation_and_others_cannot_get_it() -> None:
    kernel = corridor(8)
    kernel.place("a", 0)
    kernel.place("b", 7)
    kernel.request("a", [0, 1, 2, 3])

    kernel.offline("a")
    grant = kernel.request("b", [7, 6, 5, 4, 3, 2])

    assert kernel.allocation("a") == (0, 1, 2, 3)
    assert grant.nodes == (7, 6, 5, 4)
    assert grant.blocker == "a"
    with pytest.raises(AgvOffline):
        kernel.release_ahead("a")
    assert kernel.allocation("a") == (0, 1, 2, 3)


def test_offline_agv_is_granted_nothing_more_but_its_confirms_still_free_behind() -> None:
    kernel = corridor(8)
    kernel.place("a", 0)
    kernel.request("a", [0, 1, 2])
    kernel.offline("a")

    refused = kernel.request("a", [0, 1, 2, 3])
    kernel.confirm("a", 2)  # a state that was on its way when the connection broke

    assert refused.nodes == ()
    assert kernel.allocation("a") == (2,)


def test_back_online_it_is_granted_again() -> None:
    kernel = corridor(5)
    kernel.place("a", 0)
    kernel.offline("a")

    kernel.online("a")

    assert not kernel.is_offline("a")
    assert kernel.request("a", [0, 1]).complete
