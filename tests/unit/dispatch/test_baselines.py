"""The baselines do what their docstrings say, and share our charging rule."""

from __future__ import annotations

import pytest

from controller.dispatch import (
    Decisions,
    Dispatcher,
    DispatchPolicy,
    DistanceBlindGreedy,
    MinCostDispatcher,
    NearestIdleGreedy,
    SendToCharge,
)
from tests.unit.dispatch.floors import GridFloor, agv, task

LINE = GridFloor(100)
STATION = 99


def given(decisions: Decisions) -> dict[str, tuple[str, ...]]:
    return {trip.agv_id: trip.task_ids for trip in decisions.trips}


FLEET = [agv("b", 80, capacity=4), agv("a", 10, capacity=4), agv("c", 50, capacity=4)]
# Created in the order t-first, t-second; t-first is by "b", t-second by "a".
TASKS = [task("t-second", 12, STATION, created=5.0), task("t-first", 78, STATION, created=1.0)]


def test_distance_blind_gives_tasks_in_creation_order_to_agvs_in_id_order() -> None:
    decisions = DistanceBlindGreedy(LINE).decide(FLEET, TASKS, now_s=10.0)
    assert given(decisions) == {"a": ("t-first",), "b": ("t-second",)}
    assert decisions.trips[0].stops == (78, STATION)


def test_nearest_idle_gives_each_task_in_creation_order_the_nearest_free_agv() -> None:
    tasks = [*TASKS, task("t-third", 79, STATION, created=7.0)]
    decisions = NearestIdleGreedy(LINE).decide(FLEET, tasks, now_s=10.0)
    # t-third's nearest AGV ("b") is taken by t-first: it gets the next nearest, "c".
    assert given(decisions) == {"b": ("t-first",), "a": ("t-second",), "c": ("t-third",)}


@pytest.mark.parametrize("baseline", [DistanceBlindGreedy, NearestIdleGreedy])
def test_baselines_carry_one_tote_per_trip_and_never_park(baseline: type) -> None:
    policy = DispatchPolicy(parking=(0, 1, 2))
    tasks = [task(f"t{i}", 40 + i, STATION, created=float(i)) for i in range(5)]
    decisions = baseline(LINE, policy).decide([agv("a", 40, capacity=4)], tasks, 10.0)
    assert given(decisions) == {"a": ("t0",)}
    idle = baseline(LINE, policy).decide([agv("a", 40), agv("b", 41)], [], 10.0)
    assert idle == Decisions()


@pytest.mark.parametrize("baseline", [DistanceBlindGreedy, NearestIdleGreedy])
def test_baselines_charge_like_ours_and_respect_the_battery(baseline: type) -> None:
    policy = DispatchPolicy(chargers=(0, 1), battery_pct_per_m=0.3)
    fleet = [
        agv("critical", 30, battery=10.0, available=False),
        agv("low", 31, battery=25.0),
        # 35 % - 5 % reserve: 100 m; the trip needs 10 + 29 + 98 m back to a charger.
        agv("weak", 60, battery=35.0),
        agv("ok", 2, battery=90.0),
    ]
    tasks = [task("t", 70, STATION)]
    ours = MinCostDispatcher(LINE, policy).decide(fleet, tasks, 0.0)
    theirs = baseline(LINE, policy).decide(fleet, tasks, 0.0)
    assert (
        set(theirs.charge)
        == set(ours.charge)
        == {
            SendToCharge("critical", 1),
            SendToCharge("low", 0),
        }
    )
    assert given(theirs) == given(ours) == {"ok": ("t",)}


def test_all_three_are_dispatchers() -> None:
    dispatchers: list[Dispatcher] = [
        MinCostDispatcher(LINE),
        DistanceBlindGreedy(LINE),
        NearestIdleGreedy(LINE),
    ]
    for dispatcher in dispatchers:
        assert dispatcher.decide([], [], 0.0) == Decisions()
