"""Only the nearest few AGVs bound for one stop drive up to it; the rest wait their turn,
and an AGV whose stop cannot be reached waits too."""

from __future__ import annotations

import math

from controller.traffic.approach import ADMITTED, HOLD_M, Bound, planner_goals

STATION = 100


def _line_distance(node: int, goal: int) -> float:
    return math.inf if node < 0 else float(abs(goal - node))


def _no_refuge(node: int) -> None:
    return None


def test_the_nearest_agvs_bound_for_a_stop_approach_and_the_others_near_it_wait() -> None:
    bound = [Bound(f"agv{k}", STATION - 1 - k, STATION) for k in range(ADMITTED + 2)]

    goals = planner_goals(reversed(bound), _line_distance, _no_refuge)

    assert [goals[b.agv_id] for b in bound] == [STATION] * ADMITTED + [None, None]


def test_an_agv_not_admitted_keeps_coming_until_it_is_near() -> None:
    near = [Bound(f"agv{k}", STATION - 1 - k, STATION) for k in range(ADMITTED)]
    far = Bound("far", STATION - int(HOLD_M) - 10, STATION)

    goals = planner_goals([*near, far], _line_distance, _no_refuge)

    assert goals["far"] == STATION


def test_agvs_bound_for_different_stops_do_not_queue_for_each_other() -> None:
    bound = [Bound(f"agv{k}", k, STATION + k) for k in range(ADMITTED + 2)]

    goals = planner_goals(bound, _line_distance, _no_refuge)

    assert goals == {b.agv_id: b.goal for b in bound}


def test_an_agv_that_cannot_reach_its_stop_waits_at_a_refuge() -> None:
    bound = [Bound("cut-off", -5, STATION), Bound("idle", 3, None)]

    goals = planner_goals(bound, _line_distance, lambda node: 7)

    assert goals == {"cut-off": 7, "idle": None}
