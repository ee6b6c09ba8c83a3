"""Batteries: no trip an AGV could not finish and still reach a charger; chargers one AGV
each; critical AGVs charge at once, low ones when idle; charging AGVs leave above resume."""

from __future__ import annotations

from controller.dispatch import DispatchPolicy, MinCostDispatcher, SendToCharge
from tests.unit.dispatch.floors import GridFloor, agv, task

LINE = GridFloor(200)  # nodes 0..199, 1 m apart
POLICY = DispatchPolicy(
    chargers=(0, 10),
    battery_pct_per_m=0.1,  # 1 % per 10 m
    battery_reserve_pct=5.0,
    battery_critical_pct=15.0,
    battery_low_pct=30.0,
    battery_resume_pct=80.0,
)


def dispatcher() -> MinCostDispatcher:
    return MinCostDispatcher(LINE, POLICY)


def test_an_agv_that_could_not_reach_a_charger_after_the_trip_is_never_assigned() -> None:
    # weak: 90 m to the pickup + 9 m to the station + 189 m back to charger 10 = 28.8 %,
    # plus the 5 % reserve: more than its 33 %. strong is far away but can.
    fleet = [agv("weak", 100, battery=33.0), agv("strong", 0, battery=100.0)]
    tasks = [task("t", 190, 199)]
    decisions = dispatcher().decide(fleet, tasks, now_s=0.0)
    assert [(trip.agv_id, trip.task_ids) for trip in decisions.trips] == [("strong", ("t",))]

    alone = dispatcher().decide([agv("weak", 100, battery=33.0)], tasks, now_s=0.0)
    assert alone.trips == ()


def test_a_trip_that_leaves_the_reserve_at_the_charger_is_allowed() -> None:
    # 90 + 9 + 189 = 288 m: 28.8 % + 5 % reserve = 33.8 % ≤ 34 %.
    decisions = dispatcher().decide([agv("a", 100, battery=34.0)], [task("t", 190, 199)], 0.0)
    assert decisions.assigned_task_ids() == ["t"]


def test_a_critical_agv_goes_to_charge_whatever_it_was_doing_unless_loaded() -> None:
    fleet = [
        agv("idle", 50, battery=10.0),
        agv("on-its-way", 60, battery=10.0, available=False),
        agv("loaded", 70, battery=10.0, available=False, carrying=1),
    ]
    decisions = dispatcher().decide(fleet, [task("t", 52, 199)], now_s=0.0)
    assert {order.agv_id for order in decisions.charge} == {"idle", "on-its-way"}
    assert decisions.trips == ()


def test_a_critical_agv_gets_no_work_even_when_no_charger_is_free() -> None:
    fleet = [
        agv("c0", 0, battery=50.0, charging=True),
        agv("c10", 10, battery=50.0, charging=True),
        agv("critical", 5, battery=12.0),
    ]
    decisions = dispatcher().decide(fleet, [task("t", 6, 7)], now_s=0.0)
    assert decisions == type(decisions)()  # nothing at all: it waits for a charger


def test_two_low_agvs_get_different_chargers_the_most_depleted_its_nearest() -> None:
    fleet = [agv("a", 2, battery=28.0), agv("b", 3, battery=20.0)]
    decisions = dispatcher().decide(fleet, [], now_s=0.0)
    assert set(decisions.charge) == {SendToCharge("b", 0), SendToCharge("a", 10)}


def test_a_charger_stays_taken_while_its_agv_drives_there_charges_and_stands_on_it() -> None:
    d = MinCostDispatcher(LINE, DispatchPolicy(chargers=(0,), battery_pct_per_m=0.1))
    waiting = agv("a", 20, battery=25.0)

    first = d.decide([waiting, agv("b", 40, battery=20.0)], [], now_s=0.0)
    assert first.charge == (SendToCharge("b", 0),)  # the more depleted one first

    driving = d.decide([waiting, agv("b", 8, battery=19.0, available=False)], [], 1.0)
    charging = d.decide([waiting, agv("b", 0, battery=30.0, charging=True)], [], 2.0)
    standing = d.decide([waiting, agv("b", 0, battery=100.0)], [], 3.0)
    assert driving.charge == charging.charge == standing.charge == ()

    gone = d.decide([waiting, agv("b", 30, battery=95.0, available=False)], [], 4.0)
    assert gone.charge == (SendToCharge("a", 0),)


def test_an_idle_low_agv_charges_rather_than_works() -> None:
    decisions = dispatcher().decide([agv("a", 5, battery=25.0)], [task("t", 6, 7)], 0.0)
    assert decisions.charge == (SendToCharge("a", 0),) or decisions.charge == (
        SendToCharge("a", 10),
    )
    assert decisions.trips == ()


def test_a_low_agv_with_no_free_charger_may_take_work_it_can_finish() -> None:
    fleet = [
        agv("c0", 0, battery=40.0, charging=True),
        agv("c10", 10, battery=40.0, charging=True),
        agv("low", 5, battery=25.0),
    ]
    decisions = dispatcher().decide(fleet, [task("t", 6, 7)], now_s=0.0)
    assert decisions.charge == ()
    assert [(trip.agv_id, trip.task_ids) for trip in decisions.trips] == [("low", ("t",))]


def test_a_charging_agv_leaves_for_work_only_above_resume() -> None:
    tasks = [task("t", 30, 40)]
    below = dispatcher().decide([agv("a", 0, battery=79.0, charging=True)], tasks, 0.0)
    above = dispatcher().decide([agv("a", 0, battery=81.0, charging=True)], tasks, 0.0)
    assert below.trips == ()
    assert above.assigned_task_ids() == ["t"]


def test_a_charging_agv_keeps_charging_when_there_is_no_work() -> None:
    parking = DispatchPolicy(chargers=(0,), parking=(100,))
    decisions = MinCostDispatcher(LINE, parking).decide(
        [agv("a", 0, battery=100.0, charging=True)], [], now_s=0.0
    )
    assert decisions == type(decisions)()


def test_an_agv_found_charged_on_its_charger_goes_back_to_work() -> None:
    d = dispatcher()
    assert d.decide([agv("a", 40, battery=20.0)], [], 0.0).charge == (SendToCharge("a", 10),)
    # The charger never reported charging, but the battery is above resume.
    decisions = d.decide([agv("a", 10, battery=85.0)], [task("t", 12, 20)], 1.0)
    assert decisions.assigned_task_ids() == ["t"]
