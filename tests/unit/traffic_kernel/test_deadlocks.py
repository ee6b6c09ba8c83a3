from __future__ import annotations

from controller.traffic.kernel import Refusal, ReservationKernel
from controller.traffic.violations import ViolationKind
from tests.unit.traffic_kernel.floors import corridor, grid


def head_on(first: str, second: str) -> ReservationKernel:
    """`a` from 0 and `b` from 5 meet in the middle of a corridor, each wanting the other's
    node; `first` is placed before `second`."""
    kernel = corridor(6)
    start = {"a": 0, "b": 5}
    for agv_id in (first, second):
        kernel.place(agv_id, start[agv_id])
    kernel.request("a", [0, 1, 2])
    kernel.request("b", [5, 4, 3])
    kernel.request("a", [0, 1, 2, 3, 4, 5])
    kernel.request("b", [5, 4, 3, 2, 1, 0])
    return kernel


def test_head_on_pair_is_a_two_cycle() -> None:
    kernel = head_on("a", "b")

    [deadlock] = kernel.check(0.0)

    assert deadlock.kind is ViolationKind.DEADLOCK
    assert set(deadlock.agvs) == {"a", "b"}
    # Each member is listed with the node it waits for: a waits for 3, b for 2.
    assert dict(zip(deadlock.agvs, deadlock.nodes, strict=True)) == {"a": 3, "b": 2}
    assert kernel.violation_counts() == {ViolationKind.DEADLOCK: 1}


def test_three_agvs_circling_a_blocked_node_are_a_three_cycle() -> None:
    # 0 1 2
    # 3 X 5   the ring around the blocked centre, driven clockwise
    # 6 7 8
    kernel = grid(3, 3)
    kernel.block_node(4)
    kernel.place("a", 0)
    kernel.place("b", 5)
    kernel.place("c", 6)
    kernel.request("a", [0, 1, 2])
    kernel.request("b", [5, 8, 7])
    kernel.request("c", [6, 3])

    assert kernel.request("c", [6, 3, 4]).refusal is Refusal.NODE_BLOCKED  # no shortcut
    assert kernel.request("a", [0, 1, 2, 5]).blocker == "b"
    assert kernel.request("b", [5, 8, 7, 6]).blocker == "c"
    assert kernel.request("c", [6, 3, 0]).blocker == "a"
    [deadlock] = kernel.check(0.0)

    assert deadlock.kind is ViolationKind.DEADLOCK
    assert deadlock.agvs == ("a", "b", "c")  # all alike: the lowest id yields
    assert deadlock.nodes == (5, 6, 0)


def test_a_chain_of_waits_is_not_a_cycle() -> None:
    kernel = corridor(8)
    for agv_id, node in (("a", 0), ("b", 2), ("c", 4)):
        kernel.place(agv_id, node)
    kernel.request("a", [0, 1, 2])
    kernel.request("b", [2, 3, 4])

    assert kernel.waits_for() == {"a": "b", "b": "c"}
    assert kernel.check(0.0) == []


def test_a_wait_ends_when_the_node_frees() -> None:
    kernel = corridor(5)
    kernel.place("a", 0)
    kernel.place("b", 1)
    kernel.request("a", [0, 1])
    kernel.request("b", [1, 2])

    kernel.confirm("b", 2)

    assert kernel.waits_for() == {}


def test_yield_choice_is_the_same_whatever_the_order_agvs_arrived_in() -> None:
    assert head_on("a", "b").check(0.0)[0].agvs[0] == "a"
    assert head_on("b", "a").check(0.0)[0].agvs[0] == "a"


def test_lower_priority_yields() -> None:
    kernel = head_on("a", "b")
    kernel.set_priority("a", 5)

    [deadlock] = kernel.check(0.0)

    assert deadlock.agvs == ("b", "a")


def test_with_equal_priority_the_one_holding_more_ahead_yields() -> None:
    kernel = corridor(8)
    kernel.place("a", 0)
    kernel.place("b", 7)
    kernel.request("a", [0, 1, 2])
    kernel.request("b", [7, 6, 5, 4, 3])
    kernel.request("a", [0, 1, 2, 3])
    kernel.request("b", [7, 6, 5, 4, 3, 2])

    [deadlock] = kernel.check(0.0)

    assert deadlock.agvs[0] == "b"


def test_the_yielder_is_one_whose_yield_frees_the_node_its_waiter_wants() -> None:
    # a stands on 1 holding nothing ahead; b holds 2 ahead of it. a giving way would free
    # nothing b wants (b wants the node a stands on), so b yields despite its priority.
    kernel = corridor(5)
    kernel.place("a", 1)
    kernel.place("b", 3)
    kernel.request("b", [3, 2])
    kernel.request("a", [1, 2])
    kernel.request("b", [3, 2, 1])
    kernel.set_priority("b", 9)

    [deadlock] = kernel.check(0.0)

    assert deadlock.agvs == ("b", "a")


def test_an_offline_agv_is_not_chosen_to_yield() -> None:
    kernel = head_on("a", "b")
    kernel.offline("a")

    [deadlock] = kernel.check(0.0)

    assert deadlock.agvs[0] == "b"


def test_after_the_yield_the_cycle_is_gone_and_the_other_can_pass() -> None:
    kernel = head_on("a", "b")
    [deadlock] = kernel.check(0.0)
    yielder, other = deadlock.agvs

    freed = kernel.release_ahead(yielder)

    assert freed
    assert kernel.check(1.0) == []
    assert kernel.request(other, list(kernel.allocation(other)) + list(freed[::-1])).complete
