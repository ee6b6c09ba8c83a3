"""Parking: idle AGVs to parking nodes near recent demand, one AGV per node; parked AGVs
stay until given work."""

from __future__ import annotations

from controller.dispatch import DispatchPolicy, MinCostDispatcher, SendToPark
from tests.unit.dispatch.floors import GridFloor, agv, task

FLOOR = GridFloor(30, 10)
N = FLOOR.node
LEFT, MIDDLE, RIGHT = N(2, 9), N(15, 9), N(27, 9)
STATION = N(29, 0)


def dispatcher(*parking: int) -> MinCostDispatcher:
    return MinCostDispatcher(FLOOR, DispatchPolicy(parking=parking or (LEFT, MIDDLE, RIGHT)))


def test_idle_agvs_park_one_per_node() -> None:
    fleet = [agv("a", N(14, 0)), agv("b", N(15, 0)), agv("c", N(16, 0))]
    decisions = dispatcher(LEFT, RIGHT).decide(fleet, [], now_s=0.0)
    assert len(decisions.park) == 2
    assert {order.node for order in decisions.park} == {LEFT, RIGHT}
    assert len({order.agv_id for order in decisions.park}) == 2


def test_without_recent_demand_an_agv_parks_at_the_nearest_node() -> None:
    decisions = dispatcher().decide([agv("a", N(25, 2))], [], now_s=0.0)
    assert decisions.park == (SendToPark("a", RIGHT),)


def test_an_agv_parks_near_recent_demand_rather_than_nearest() -> None:
    d = dispatcher(LEFT, RIGHT)
    busy = agv("a", N(16, 0), available=False)
    recent = [task(f"t{x}", N(x, 5), STATION, created=90.0) for x in (1, 2, 3)]
    d.decide([busy], recent, now_s=100.0)  # seen while waiting, then served elsewhere

    # (16, 0) is 21 m from RIGHT and 23 m from LEFT, but demand was by LEFT.
    decisions = d.decide([agv("a", N(16, 0))], [], now_s=150.0)
    assert decisions.park == (SendToPark("a", LEFT),)


def test_demand_older_than_the_window_is_forgotten() -> None:
    d = MinCostDispatcher(FLOOR, DispatchPolicy(parking=(LEFT, RIGHT), demand_window_s=60.0))
    recent = [task(f"t{x}", N(x, 5), STATION, created=0.0) for x in (1, 2, 3)]
    d.decide([agv("a", N(16, 0), available=False)], recent, now_s=10.0)
    decisions = d.decide([agv("a", N(16, 0))], [], now_s=100.0)
    assert decisions.park == (SendToPark("a", RIGHT),)


def test_a_parked_agv_stays_and_one_on_its_way_is_not_sent_again() -> None:
    d = dispatcher()
    assert d.decide([agv("a", MIDDLE)], [], 0.0).park == ()  # already on a parking node
    first = d.decide([agv("a", MIDDLE), agv("b", N(26, 0))], [], 1.0)
    assert first.park == (SendToPark("b", RIGHT),)
    for now, b_node in ((2.0, N(26, 5)), (3.0, N(27, 8)), (4.0, RIGHT)):
        later = d.decide([agv("a", MIDDLE), agv("b", b_node)], [], now)
        assert later.park == ()


def test_a_parked_agv_leaves_for_work_and_frees_its_node() -> None:
    d = dispatcher(RIGHT)
    d.decide([agv("a", RIGHT)], [], 0.0)
    work = d.decide([agv("a", RIGHT)], [task("t", N(28, 9), STATION)], 1.0)
    assert work.assigned_task_ids() == ["t"]
    after = d.decide([agv("a", N(29, 3), available=False), agv("b", N(20, 9))], [], 2.0)
    assert after.park == (SendToPark("b", RIGHT),)


def test_busy_charging_and_loaded_agvs_are_not_parked() -> None:
    fleet = [
        agv("busy", N(1, 1), available=False),
        agv("charging", N(2, 1), charging=True, battery=100.0),
        agv("loaded", N(3, 1), carrying=1, capacity=1),
    ]
    assert dispatcher().decide(fleet, [], 0.0).park == ()


def test_agvs_pushed_onto_each_others_parking_node_park_where_they_stand() -> None:
    """In a dead-end row of parking, two AGVs bound for each other's node could never pass:
    each settles where it stands instead."""
    d = dispatcher(LEFT, RIGHT)
    first = d.decide([agv("a", N(14, 0)), agv("b", N(16, 0))], [], now_s=0.0)
    claimed = {order.agv_id: order.node for order in first.park}
    a_claim, b_claim = claimed["a"], claimed["b"]
    # pushed aside on the way, each ends up on the node the other was sent to
    swapped = d.decide([agv("a", b_claim), agv("b", a_claim)], [], now_s=1.0)
    assert set(swapped.park) == {SendToPark("a", b_claim), SendToPark("b", a_claim)}
    assert d.decide([agv("a", b_claim), agv("b", a_claim)], [], now_s=2.0).park == ()
