"""Deadlines, age and priority: urgent tasks go first, a late one to the AGV that delivers
it soonest, and no task waits for ever."""

from __future__ import annotations

import numpy as np

from controller.dispatch import DispatchPolicy, MinCostDispatcher, PickTask
from controller.dispatch.cost import task_credit
from controller.dispatch.tasks import TaskArrays
from tests.unit.dispatch.floors import GridFloor, agv, task

LINE = GridFloor(200)  # nodes 0..199, 1 m apart
STATION = 50


def test_a_task_due_soon_beats_a_closer_relaxed_one() -> None:
    tasks = [task("relaxed", 10, STATION), task("urgent", 30, STATION, due=60.0)]
    decisions = MinCostDispatcher(LINE).decide([agv("a", 0)], tasks, now_s=0.0)
    assert decisions.assigned_task_ids() == ["urgent"]


def test_a_due_time_beyond_the_horizon_does_not_beat_the_closer_task() -> None:
    tasks = [task("relaxed", 10, STATION), task("later", 30, STATION, due=1000.0)]
    decisions = MinCostDispatcher(LINE).decide([agv("a", 0)], tasks, now_s=0.0)
    assert decisions.assigned_task_ids() == ["relaxed"]


def test_a_higher_priority_beats_a_closer_task() -> None:
    tasks = [task("near", 10, STATION), task("rush", 30, STATION, priority=1)]
    decisions = MinCostDispatcher(LINE).decide([agv("a", 0)], tasks, now_s=0.0)
    assert decisions.assigned_task_ids() == ["rush"]


def test_a_task_that_would_be_late_goes_to_the_agv_that_delivers_it_soonest() -> None:
    # Both AGVs stand together; either pairing drives the same total, but only the fast
    # one delivers `tight` (20 m at 2 m/s: 10 s) before its due time (15 s).
    fleet = [agv("slow", 0, speed=1.0), agv("fast", 0, speed=2.0)]
    tasks = [task("tight", 10, 20, due=15.0), task("loose", 10, 20)]
    decisions = MinCostDispatcher(LINE).decide(fleet, tasks, now_s=0.0)
    given = {trip.agv_id: trip.task_ids for trip in decisions.trips}
    assert given == {"fast": ("tight",), "slow": ("loose",)}


def test_credit_grows_as_slack_shrinks_and_keeps_growing_after_the_due_time() -> None:
    policy = DispatchPolicy()
    dues = [2000.0, 300.0, 200.0, 100.0, 0.0, -100.0, -1000.0]
    tasks = TaskArrays.of([task(f"t{i}", 0, 1, created=0.0, due=due) for i, due in enumerate(dues)])
    credit = task_credit(tasks, np.zeros(len(dues)), 0.0, 1.0, policy)
    assert credit[0] == credit[1] == 0.0  # slack beyond the horizon: no urgency yet
    assert (np.diff(credit[1:]) > 0).all()


def test_credit_grows_with_age() -> None:
    tasks = TaskArrays.of([task("old", 0, 1, created=0.0), task("new", 0, 1, created=90.0)])
    credit = task_credit(tasks, np.zeros(2), 100.0, 1.0, DispatchPolicy())
    assert credit[0] > credit[1]


def test_a_far_old_task_is_eventually_served_while_near_ones_keep_coming() -> None:
    """One AGV, a station at 0, a new task 5 m away every trip and one task 150 m away: each
    near task is cheaper to serve when it appears, but the far one's age wins in the end."""
    policy = DispatchPolicy(max_totes_per_trip=1)
    dispatcher = MinCostDispatcher(LINE, policy)
    now, node, served = 0.0, 0, []
    waiting = [PickTask("far", 150, 0, created_s=0.0)]
    for trip in range(400):
        waiting.append(PickTask(f"near{trip}", 5, 0, created_s=now))
        decisions = dispatcher.decide([agv("a", node)], waiting, now)
        (given,) = decisions.trips
        served.extend(given.task_ids)
        if "far" in given.task_ids:
            break
        waiting = [t for t in waiting if t.id not in given.task_ids]
        pickup, station = given.stops
        now += abs(pickup - node) + abs(station - pickup)  # 1 m/s
        node = station
    assert served[-1] == "far"
    # Not at once: only when its age is worth its longer drive to the pickup (145 s more
    # than a near task's) did it win: after 145 / wait_weight = 580 s.
    assert now >= (150 - 5) / policy.wait_weight - 10
