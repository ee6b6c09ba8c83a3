"""Several totes per trip: capacity, the detour rule, deadlines, battery, route order, and
no task given twice."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from controller.dispatch import Decisions, DispatchPolicy, MinCostDispatcher, PickTask
from tests.unit.dispatch.floors import GridFloor, agv, task

FLOOR = GridFloor(30, 10)
N = FLOOR.node
STATION = N(29, 0)


def trips_of(decisions: Decisions) -> dict[str, tuple[str, ...]]:
    return {trip.agv_id: trip.task_ids for trip in decisions.trips}


def test_a_trip_takes_near_totes_up_to_its_free_capacity() -> None:
    tasks = [task(f"t{x}", N(x, 5), STATION) for x in range(10, 15)]
    decisions = MinCostDispatcher(FLOOR).decide([agv("a", N(0, 5), capacity=3)], tasks, 0.0)
    (trip,) = decisions.trips
    assert len(trip.task_ids) == 3
    assert trip.stops == (*(N(int(t[1:]), 5) for t in trip.task_ids), STATION)


def test_totes_already_on_board_and_the_policy_cap_limit_the_trip() -> None:
    tasks = [task(f"t{x}", N(x, 5), STATION) for x in range(10, 16)]
    loaded = agv("a", N(0, 5), capacity=3, carrying=1)
    assert len(MinCostDispatcher(FLOOR).decide([loaded], tasks, 0.0).trips[0].task_ids) == 2
    capped = MinCostDispatcher(FLOOR, DispatchPolicy(max_totes_per_trip=2))
    big = agv("a", N(0, 5), capacity=6)
    assert len(capped.decide([big], tasks, 0.0).trips[0].task_ids) == 2


def test_a_tote_joins_only_when_its_detour_is_shorter_than_its_own_loaded_drive() -> None:
    seed = task("seed", N(1, 0), STATION)  # 28 m to the station
    on_the_way = task("on-the-way", N(15, 0), STATION)  # no detour at all
    # From the seed to (28, 9) and on to the station: 36 + 10 m instead of 28 m, so 18 m
    # extra, more than its own 10 m drive to the station.
    aside = task("aside", N(28, 9), STATION)
    fleet = [agv("a", N(0, 0), capacity=3)]

    decisions = MinCostDispatcher(FLOOR).decide(fleet, [seed, on_the_way, aside], 0.0)
    assert trips_of(decisions) == {"a": ("seed", "on-the-way")}

    lenient = MinCostDispatcher(FLOOR, DispatchPolicy(detour_ratio=2.0))
    decisions = lenient.decide(fleet, [seed, on_the_way, aside], 0.0)
    assert set(trips_of(decisions)["a"]) == {"seed", "on-the-way", "aside"}


def test_stations_are_visited_after_all_pickups_in_the_order_first_needed() -> None:
    other_station = N(29, 5)
    tasks = [task("first", N(1, 0), STATION), task("second", N(2, 0), other_station)]
    decisions = MinCostDispatcher(FLOOR).decide([agv("a", N(0, 0), capacity=2)], tasks, 0.0)
    (trip,) = decisions.trips
    assert trip.task_ids == ("first", "second")
    assert trip.stops == (N(1, 0), N(2, 0), STATION, other_station)


def test_a_detour_may_not_make_a_task_of_the_trip_late() -> None:
    # The seed alone reaches the station at 29 s; the extra tote costs 6 s more.
    extra = task("extra", N(10, 3), STATION)
    fleet = [agv("a", N(0, 0), capacity=2)]
    relaxed = [task("seed", N(10, 0), STATION, due=40.0), extra]
    tight = [task("seed", N(10, 0), STATION, due=31.0), extra]
    assert len(MinCostDispatcher(FLOOR).decide(fleet, relaxed, 0.0).trips[0].task_ids) == 2
    assert MinCostDispatcher(FLOOR).decide(fleet, tight, 0.0).trips[0].task_ids == ("seed",)


def test_the_battery_must_reach_a_charger_after_the_whole_trip() -> None:
    charger = N(0, 0)
    policy = DispatchPolicy(chargers=(charger,), battery_pct_per_m=1.0, battery_reserve_pct=0)
    # AGV at (20, 0): seed at (25, 0), station (29, 0), back to the charger: 5 + 4 + 29 = 38 m.
    # The extra tote at (25, 4) adds 8 m: 46 m.
    tasks = [task("seed", N(25, 0), STATION), task("extra", N(25, 4), STATION)]
    for battery, totes in ((45.0, 1), (46.0, 2)):
        fleet = [agv("a", N(20, 0), capacity=2, battery=battery)]
        decisions = MinCostDispatcher(FLOOR, policy).decide(fleet, tasks, 0.0)
        assert len(decisions.trips[0].task_ids) == totes


@pytest.mark.parametrize("seed", range(8))
def test_no_task_is_given_twice_and_every_trip_fits_its_agv(seed: int) -> None:
    rng = np.random.default_rng(seed)
    floor = GridFloor(40, 25)
    stations = [floor.node(39, y) for y in (0, 8, 16, 24)]
    fleet = [
        agv(
            f"a{i}",
            int(rng.integers(0, 1000)),
            capacity=int(rng.integers(1, 6)),
            carrying=int(rng.integers(0, 2)),
            battery=float(rng.uniform(40, 100)),
        )
        for i in range(int(rng.integers(5, 30)))
    ]
    tasks = [
        PickTask(
            f"t{j}",
            int(rng.integers(0, 1000)),
            stations[int(rng.integers(0, 4))],
            created_s=float(rng.uniform(0, 100)),
            due_s=float(rng.uniform(100, 400)) if rng.random() < 0.3 else None,
        )
        for j in range(int(rng.integers(20, 150)))
    ]
    policy = DispatchPolicy(chargers=(0,), min_candidates=int(rng.integers(5, 60)))
    decisions = MinCostDispatcher(floor, policy).decide(fleet, tasks, now_s=100.0)

    given = Counter(decisions.assigned_task_ids())
    assert given
    assert max(given.values()) == 1
    assert len({trip.agv_id for trip in decisions.trips}) == len(decisions.trips)
    by_id = {a.id: a for a in fleet}
    task_by_id = {t.id: t for t in tasks}
    for trip in decisions.trips:
        agv_ = by_id[trip.agv_id]
        assert len(trip.task_ids) <= min(agv_.capacity - agv_.carrying, policy.max_totes_per_trip)
        k = len(trip.task_ids)
        assert trip.stops[:k] == tuple(task_by_id[t].pickup for t in trip.task_ids)
        route_stations = trip.stops[k:]
        assert len(set(route_stations)) == len(route_stations)
        assert set(route_stations) == {task_by_id[t].dropoff for t in trip.task_ids}


def test_a_tote_two_trips_want_goes_where_its_detour_is_cheaper() -> None:
    # "shared" at (10, 1) is on the way for "other" (from (5, 2)) and a 2 m detour for
    # "near" (from (5, 0)), which then takes its next cheapest, "spare" (8 m).
    tasks = [
        task("seed-near", N(5, 0), STATION, created=0.0),
        task("seed-other", N(5, 2), STATION, created=0.0),
        task("shared", N(10, 1), STATION, created=50.0),
        task("spare", N(10, 4), STATION, created=50.0),
    ]
    fleet = [agv("near", N(4, 0), capacity=2), agv("other", N(4, 2), capacity=2)]
    decisions = MinCostDispatcher(FLOOR).decide(fleet, tasks, now_s=60.0)
    assert trips_of(decisions) == {
        "near": ("seed-near", "spare"),
        "other": ("seed-other", "shared"),
    }
