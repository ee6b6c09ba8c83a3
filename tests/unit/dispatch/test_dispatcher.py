"""The dispatcher over many ticks of a small simulated fleet: one decision per AGV, no task
twice, chargers and parking nodes never double-booked, and strict about its input."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

from controller.dispatch import (
    AgvSnapshot,
    Decisions,
    DispatchPolicy,
    DistanceBlindGreedy,
    MinCostDispatcher,
    NearestIdleGreedy,
    PickTask,
)
from controller.dispatch.fleet import can_work, idle
from tests.unit.dispatch.floors import GridFloor, agv, task

FLOOR = GridFloor(30, 20)
STATIONS = tuple(FLOOR.node(29, y) for y in (0, 10, 19))
CHARGERS = tuple(FLOOR.node(0, y) for y in (0, 1))
PARKING = tuple(FLOOR.node(x, 19) for x in (5, 10, 15))
POLICY = DispatchPolicy(chargers=CHARGERS, parking=PARKING, battery_pct_per_m=0.2, min_candidates=8)


@dataclass
class Moving:
    """What the test's world knows an AGV is doing, and until when."""

    until: float
    then: str  # "idle", "charge" or "park"


def check(decisions: Decisions, agvs: list[AgvSnapshot], tasks: list[PickTask]) -> None:
    deciders = [d.agv_id for d in (*decisions.trips, *decisions.charge, *decisions.park)]
    assert len(deciders) == len(set(deciders))
    given = decisions.assigned_task_ids()
    assert len(given) == len(set(given))
    assert set(given) <= {t.id for t in tasks}
    by_id = {a.id: a for a in agvs}
    for trip in decisions.trips:
        assert can_work(by_id[trip.agv_id], POLICY)
    for order in decisions.charge:
        assert not by_id[order.agv_id].charging
        assert by_id[order.agv_id].carrying == 0
    for park in decisions.park:
        assert idle(by_id[park.agv_id])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", [MinCostDispatcher, NearestIdleGreedy, DistanceBlindGreedy])
def test_many_ticks_keep_every_invariant(kind: type, seed: int) -> None:
    rng = np.random.default_rng(seed)
    dispatcher = kind(FLOOR, POLICY)
    fleet = {
        f"a{i}": agv(
            f"a{i}",
            int(rng.integers(0, 600)),
            battery=float(rng.uniform(20, 100)),
            capacity=int(rng.integers(1, 4)),
        )
        for i in range(8)
    }
    moving: dict[str, Moving] = {}
    charger_of: dict[str, int] = {}  # AGVs sent to a charger and not yet left it
    parked_at: dict[str, int] = {}
    waiting: list[PickTask] = []
    serial = 0
    for tick in range(150):
        now = float(tick * 5)
        for _ in range(int(rng.integers(0, 3))):
            serial += 1
            waiting.append(
                task(
                    f"t{serial}",
                    int(rng.integers(0, 600)),
                    STATIONS[int(rng.integers(0, 3))],
                    created=now,
                )
            )
        for agv_id, move in list(moving.items()):
            if now >= move.until:
                del moving[agv_id]
                a = fleet[agv_id]
                fleet[agv_id] = replace(
                    a, available=True, carrying=0, charging=move.then == "charge"
                )
        for agv_id in charger_of:
            if fleet[agv_id].charging:
                fleet[agv_id] = replace(
                    fleet[agv_id], battery_pct=min(100.0, fleet[agv_id].battery_pct + 10)
                )
        agvs = list(fleet.values())

        decisions = dispatcher.decide(agvs, waiting, now)

        check(decisions, agvs, waiting)
        for trip in decisions.trips:
            a = fleet[trip.agv_id]
            charger_of.pop(a.id, None)
            parked_at.pop(a.id, None)
            fleet[a.id] = replace(
                a,
                node=trip.stops[-1],
                available=False,
                charging=False,
                carrying=len(trip.task_ids),
                battery_pct=a.battery_pct - 4,
            )
            moving[a.id] = Moving(now + 20, "idle")
        waiting = [t for t in waiting if t.id not in set(decisions.assigned_task_ids())]
        for order in decisions.charge:
            assert order.charger not in charger_of.values()  # one AGV per charger
            parked_at.pop(order.agv_id, None)
            charger_of[order.agv_id] = order.charger
            fleet[order.agv_id] = replace(fleet[order.agv_id], node=order.charger, available=False)
            moving[order.agv_id] = Moving(now + 10, "charge")
        for order in decisions.park:
            assert order.node not in parked_at.values()  # one AGV per parking node
            parked_at[order.agv_id] = order.node
            fleet[order.agv_id] = replace(fleet[order.agv_id], node=order.node, available=False)
            moving[order.agv_id] = Moving(now + 10, "park")
        for agv_id in list(charger_of):  # left its charger for good
            if not fleet[agv_id].charging and agv_id not in moving:
                del charger_of[agv_id]


def test_repeated_ids_are_refused() -> None:
    d = MinCostDispatcher(FLOOR)
    with pytest.raises(ValueError, match="AGV ids"):
        d.decide([agv("a", 0), agv("a", 1)], [], 0.0)
    with pytest.raises(ValueError, match="task ids"):
        d.decide([agv("a", 0)], [task("t", 1, 2), task("t", 3, 4)], 0.0)


def test_the_policy_refuses_thresholds_out_of_order() -> None:
    with pytest.raises(ValueError, match="battery"):
        DispatchPolicy(battery_low_pct=10.0, battery_critical_pct=20.0)
    with pytest.raises(ValueError, match="urgency_weight"):
        DispatchPolicy(urgency_weight=1.0, late_weight=1.0)
