from __future__ import annotations

from controller.traffic.kernel import ReservationKernel
from controller.traffic.violations import Violation, ViolationKind
from tests.unit.traffic_kernel.floors import corridor


def heading_for_goal() -> ReservationKernel:
    kernel = corridor(10)
    kernel.place("a", 0)
    kernel.set_goal("a", 9)
    kernel.check(0.0)  # starts its clock
    return kernel


def test_no_progress_for_61_s_towards_a_reachable_goal_is_a_stall() -> None:
    kernel = heading_for_goal()

    assert kernel.check(60.0) == []
    assert kernel.check(61.0) == [Violation(ViolationKind.STALL, ("a",), (0, 9))]
    assert kernel.violation_counts() == {ViolationKind.STALL: 1}


def test_working_at_a_node_is_not_a_stall() -> None:
    kernel = heading_for_goal()
    kernel.set_working("a", True)

    assert kernel.check(500.0) == []


def test_clock_restarts_when_the_work_ends() -> None:
    kernel = heading_for_goal()
    kernel.set_working("a", True)
    kernel.check(500.0)
    kernel.set_working("a", False)
    kernel.check(501.0)

    assert kernel.check(561.0) == []
    assert kernel.check(562.0) != []


def test_an_agv_without_a_goal_is_not_stalled() -> None:
    kernel = heading_for_goal()
    kernel.set_goal("a", None)

    assert kernel.check(500.0) == []


def test_an_unreachable_goal_is_not_a_stall_the_reachability_is_asked_of_the_caller() -> None:
    kernel = heading_for_goal()
    asked: list[str] = []

    def reachable(agv_id: str) -> bool:
        asked.append(agv_id)
        return False

    assert kernel.check(30.0, reachable) == []
    assert asked == []  # only AGVs past the limit are asked
    assert kernel.check(61.0, reachable) == []
    assert asked == ["a"]


def test_moving_to_a_new_node_resets_the_clock() -> None:
    kernel = heading_for_goal()
    kernel.request("a", [0, 1, 2])
    kernel.confirm("a", 1)
    kernel.check(30.0)

    assert kernel.check(90.0) == []
    assert kernel.check(91.0) != []


def test_confirming_the_same_node_again_is_not_progress() -> None:
    kernel = heading_for_goal()
    kernel.check(30.0)
    kernel.confirm("a", 0)

    assert kernel.check(61.0) != []


def test_an_agv_at_its_goal_is_not_stalled() -> None:
    kernel = heading_for_goal()
    kernel.request("a", [0, 1])
    kernel.confirm("a", 1)
    kernel.set_goal("a", 1)

    assert kernel.check(500.0) == []


def test_a_new_goal_restarts_the_clock() -> None:
    kernel = heading_for_goal()
    kernel.check(50.0)
    kernel.set_goal("a", 5)
    kernel.check(55.0)

    assert kernel.check(115.0) == []
    assert kernel.check(116.0) != []


def test_an_offline_agv_is_not_reported_stalled_and_its_clock_restarts_online() -> None:
    kernel = heading_for_goal()
    kernel.offline("a")

    assert kernel.check(500.0) == []
    kernel.online("a")
    kernel.check(501.0)
    assert kernel.check(561.0) == []
