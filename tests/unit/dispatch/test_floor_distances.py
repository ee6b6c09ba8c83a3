"""The dispatcher reads the compiled floor through `distances`: only the entries it asks for,
and always as the floor is now, never as it was when first asked."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from controller.dispatch import (
    DispatchPolicy,
    DistanceBlindGreedy,
    MinCostDispatcher,
    NearestIdleGreedy,
)
from controller.dispatch.fleet import Workers
from controller.dispatch.geometry import TripGeometry, between
from controller.dispatch.tasks import TaskArrays
from controller.traffic.floor import CompiledFloor
from tests.unit.dispatch.floors import DirectedFloor, agv, task


def corridor_with_station() -> CompiledFloor:
    """Nodes n0-n5 in a row, 1 m apart; station S and charger C hang off n5 and n0, each
    by its only edge."""
    ids = [f"n{i}" for i in range(6)] + ["S", "C"]
    xy = [(float(i), 0.0) for i in range(6)] + [(5.0, 1.0), (0.0, 1.0)]
    edges = [(f"n{i}", f"n{i + 1}", 1.0) for i in range(5)] + [("n5", "S", 1.0), ("n0", "C", 1.0)]
    return CompiledFloor.build(ids, xy, edges, {"station": ["S"], "charger": ["C"], "rack": []})


def test_distances_are_the_asked_columns_of_the_tables() -> None:
    floor = corridor_with_station()
    goals = [floor.index("S"), floor.index("n2"), floor.index("S")]
    nodes = np.array([floor.index("n0"), floor.index("C"), floor.index("n5")])

    found = floor.distances(goals, nodes)

    assert found.dtype == np.float32
    assert found.shape == (3, 3)
    np.testing.assert_array_equal(found, floor.distance_rows(goals)[:, nodes])
    assert found[0].tolist() == [6.0, 7.0, 1.0]
    assert floor.distances([], nodes).shape == (0, 3)
    assert floor.distances(goals, np.array([], dtype=np.int64)).shape == (3, 0)


def test_distances_follow_a_closed_edge() -> None:
    floor = corridor_with_station()
    station, n0 = floor.index("S"), floor.index("n0")
    assert floor.distances([station], np.array([n0]))[0, 0] == 6.0

    floor.close_edge(floor.index("n5"), station)

    assert math.isinf(floor.distances([station], np.array([n0]))[0, 0])


@pytest.mark.parametrize("kind", [MinCostDispatcher, NearestIdleGreedy, DistanceBlindGreedy])
def test_a_station_cut_off_after_the_first_tick_gets_no_more_totes(kind: type) -> None:
    floor = corridor_with_station()
    station = floor.index("S")
    policy = DispatchPolicy(chargers=(floor.index("C"),), battery_pct_per_m=0.1)
    dispatcher = kind(floor, policy)
    fleet = [agv("a", floor.index("n0"))]
    first = [task("t1", floor.index("n2"), station)]
    assert dispatcher.decide(fleet, first, now_s=0.0).assigned_task_ids() == ["t1"]

    floor.close_edge(floor.index("n5"), station)
    later = [task("t2", floor.index("n3"), station)]

    assert dispatcher.decide(fleet, later, now_s=1.0).trips == ()


@pytest.mark.parametrize("kind", [MinCostDispatcher, NearestIdleGreedy])
def test_an_agv_is_not_sent_to_a_charger_cut_off_after_the_first_tick(kind: type) -> None:
    floor = corridor_with_station()
    charger = floor.index("C")
    dispatcher = kind(floor, DispatchPolicy(chargers=(charger,)))
    first = dispatcher.decide([agv("a", floor.index("n3"), battery=20.0)], [], now_s=0.0)
    assert [order.charger for order in first.charge] == [charger]

    floor.close_edge(floor.index("n0"), charger)
    # "a" has gone (its claim with it); "b" needs a charger it can no longer reach.
    later = dispatcher.decide([agv("b", floor.index("n4"), battery=20.0)], [], now_s=1.0)

    assert later.charge == ()


def test_legs_touching_waiting_tasks_are_the_floors_one_way_distances() -> None:
    floor = DirectedFloor(nodes=40, chords=60, seed=3)
    pickups = [5, 9, 9, 17, 23, 31]  # two tasks share a pickup
    tasks = TaskArrays.of([task(f"t{k}", p, 0) for k, p in enumerate(pickups)])
    workers = Workers.of([agv("a", 1), agv("b", 2)], DispatchPolicy())
    to_station = between(floor, tasks.stations, tasks.pickup).T
    geometry = TripGeometry.measure(floor, workers, tasks, to_station, np.zeros(1))
    waiting = np.array([1, 4])

    legs = geometry.legs_touching(waiting)

    for u, v in itertools.product(range(len(pickups)), repeat=2):
        if u in waiting or v in waiting:
            assert legs[u, v] == pytest.approx(floor.all_pairs[pickups[u], pickups[v]], rel=1e-6)
        else:
            assert math.isinf(legs[u, v])
