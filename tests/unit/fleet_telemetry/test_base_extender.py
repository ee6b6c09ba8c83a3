"""Each state confirms its AGV's node and extends its base along the latest plan."""

from __future__ import annotations

import pytest

from controller.traffic.errors import UnknownAgv
from controller.traffic.ingest import BaseExtender
from controller.traffic.kernel import Refusal, ReservationKernel
from controller.traffic.violations import ViolationKind


def corridor(length: int) -> tuple[ReservationKernel, dict[str, int]]:
    """Nodes n0 - n1 - ... in a line."""
    kernel = ReservationKernel(length, [(i, i + 1) for i in range(length - 1)])
    return kernel, {f"n{i}": i for i in range(length)}


def extender_on_corridor(
    length: int = 10, lookahead: int = 3
) -> tuple[ReservationKernel, BaseExtender]:
    kernel, index = corridor(length)
    return kernel, BaseExtender(kernel, index, lookahead=lookahead)


def test_first_state_at_the_start_grants_the_lookahead_along_the_plan() -> None:
    kernel, extender = extender_on_corridor()
    kernel.place("a", 0)
    extender.install({"a": [0, 1, 2, 3, 4, 5, 6]})

    decision = extender.on_state("a", "n0")

    assert decision is not None
    assert decision.base == (0, 1, 2, 3)
    assert decision.released == (1, 2, 3)
    assert decision.refusal is None
    assert decision.planned


def test_a_state_at_the_next_node_frees_the_one_behind_and_extends_by_one() -> None:
    kernel, extender = extender_on_corridor()
    kernel.place("a", 0)
    extender.install({"a": [0, 1, 2, 3, 4, 5, 6]})
    extender.on_state("a", "n0")

    decision = extender.on_state("a", "n1")

    assert decision is not None
    assert decision.base == (1, 2, 3, 4)
    assert decision.released == (4,)
    assert kernel.holder(0) is None
    assert kernel.edge_holder(0, 1) is None


def test_a_repeated_state_releases_nothing_more() -> None:
    kernel, extender = extender_on_corridor()
    kernel.place("a", 0)
    extender.install({"a": [0, 1, 2, 3, 4, 5, 6]})
    extender.on_state("a", "n0")
    extender.on_state("a", "n1")

    decision = extender.on_state("a", "n1")

    assert decision is not None
    assert decision.base == (1, 2, 3, 4)
    assert decision.released == ()


def test_the_extension_stops_at_a_node_another_agv_holds() -> None:
    kernel, extender = extender_on_corridor()
    kernel.place("a", 0)
    kernel.place("b", 3)
    extender.install({"a": [0, 1, 2, 3, 4]})

    decision = extender.on_state("a", "n0")

    assert decision is not None
    assert decision.base == (0, 1, 2)
    assert decision.refusal is Refusal.HELD


def test_a_node_not_held_is_reported_and_nothing_is_granted() -> None:
    kernel, extender = extender_on_corridor()
    kernel.place("a", 0)
    extender.install({"a": [0, 1, 2, 3, 4, 5, 6]})

    decision = extender.on_state("a", "n5")

    assert decision is not None
    assert decision.violation is not None
    assert decision.violation.kind is ViolationKind.CONFIRM_NOT_HELD
    assert decision.base == (0,)
    assert decision.released == ()


def test_an_agv_off_its_plan_keeps_its_base_and_is_granted_nothing_more() -> None:
    kernel, extender = extender_on_corridor()
    kernel.place("a", 2)
    extender.install({"a": [5, 6, 7]})

    decision = extender.on_state("a", "n2")

    assert decision is not None
    assert not decision.planned
    assert decision.base == (2,)
    assert decision.released == ()


def test_an_agv_without_a_plan_is_granted_nothing() -> None:
    kernel, extender = extender_on_corridor()
    kernel.place("a", 2)

    decision = extender.on_state("a", "n2")

    assert decision is not None
    assert not decision.planned
    assert decision.base == (2,)


def test_a_node_off_the_floor_decides_nothing() -> None:
    kernel, extender = extender_on_corridor()
    kernel.place("a", 0)
    extender.install({"a": [0, 1, 2]})

    assert extender.on_state("a", "") is None
    assert extender.on_state("a", "elsewhere") is None
    assert kernel.allocation("a") == (0,)


def test_new_plans_take_over_from_the_next_state() -> None:
    kernel, index = corridor(10)
    extender = BaseExtender(kernel, index, lookahead=2)
    kernel.place("a", 0)
    extender.install({"a": [0, 1, 2]})
    extender.on_state("a", "n0")
    extender.on_state("a", "n1")
    assert kernel.allocation("a") == (1, 2)  # the end of its plan

    extender.install({"a": [1, 2, 3, 4, 5]})
    decision = extender.on_state("a", "n2")

    assert decision is not None
    assert decision.base == (2, 3, 4)
    assert extender.plans_installed == 2


def test_an_agv_a_tick_left_out_keeps_its_plan() -> None:
    _, extender = extender_on_corridor()
    extender.install({"a": [0, 1, 2], "b": [5, 6]})

    extender.install({"a": [1, 2, 3]})

    assert extender.plan("a") == (1, 2, 3)
    assert extender.plan("b") == (5, 6)


def test_the_planner_waiting_a_step_costs_no_lookahead_node_twice() -> None:
    kernel, extender = extender_on_corridor()
    kernel.place("a", 0)
    extender.install({"a": [0, 0, 1, 2, 3]})

    decision = extender.on_state("a", "n0")

    assert decision is not None
    assert decision.base == (0, 1, 2)  # 4 plan steps, one of them a wait


def test_an_agv_the_kernel_never_placed_is_a_bug() -> None:
    _, extender = extender_on_corridor()
    extender.install({"ghost": [0, 1]})

    with pytest.raises(UnknownAgv):
        extender.on_state("ghost", "n0")


def test_a_lookahead_below_one_node_is_refused() -> None:
    kernel, index = corridor(3)

    with pytest.raises(ValueError, match="lookahead"):
        BaseExtender(kernel, index, lookahead=0)
