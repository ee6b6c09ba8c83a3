"""FleetControl: what an AGV is released is what the kernel holds for it; nodes are freed
only when the AGV reports it has left; failed AGVs and closed aisles are routed around;
trips are worked off stop by stop; deadlocks are broken by the chosen AGV giving way."""

from __future__ import annotations

from itertools import pairwise

import pytest

from controller.dispatch import Decisions, PickTask, SendToCharge, SendToPark, TripAssignment
from controller.traffic import floor as floor_module
from controller.traffic.control import RACK_TABLES_PER_AGV, FleetControl
from controller.traffic.floor import CompiledFloor
from controller.traffic.ids import edge_key
from controller.traffic.trips import StopKind
from controller.traffic.violations import ViolationKind
from tests.unit.fleet_sim.scripted import Loop, ScriptedDispatcher, control_for, trip
from tests.unit.traffic.grids import grid, open_picture

LOOP = """
A.....G
.#####.
.......
"""


def test_the_base_is_what_the_kernel_holds_and_nothing_more() -> None:
    g = grid(open_picture(7, 4))
    ids = ["agv0", "agv1", "agv2", "agv3"]
    starts = dict(zip(ids, [g.at(0, 0), g.at(3, 6), g.at(0, 6), g.at(3, 0)], strict=True))
    goals = [g.at(3, 6), g.at(0, 0), g.at(3, 0), g.at(0, 6)]  # each to the opposite corner
    script = {a: [SendToPark(a, goal)] for a, goal in zip(ids, goals, strict=True)}
    control = control_for(g.floor, ScriptedDispatcher(script))
    loop = Loop(control, starts)

    for _ in range(30):
        _, result = loop.step()
        for agv_id, order in result.orders.items():
            assert order.base == control.kernel.allocation(agv_id)
            assert order.base[0] == loop.world.bodies[agv_id].node
            assert all(control.kernel.holder(node) == agv_id for node in order.base)
            assert len(order.base) <= 2  # one node released ahead at most
            assert not set(order.horizon) & set(order.base[1:])
    assert all(loop.world.bodies[a].node == goal for a, goal in zip(ids, goals, strict=True))


def test_the_node_behind_is_freed_only_when_the_agv_reports_it_has_left() -> None:
    g = grid("S.....G")
    control = control_for(g.floor, ScriptedDispatcher({"agv0": [SendToPark("agv0", g["G"])]}))
    control.add_agv("agv0", g["S"])
    control.observe("agv0", g["S"], now_s=1.0, battery_pct=90.0)

    first = control.tick(1.0, []).orders["agv0"]
    assert first.base == (g["S"], g.at(0, 1))
    again = control.tick(2.0, []).orders["agv0"]  # no report yet: nothing freed, nothing more
    assert again.base == first.base
    assert control.kernel.holder(g["S"]) == "agv0"

    control.observe("agv0", g.at(0, 1), now_s=3.0, battery_pct=90.0)
    assert control.kernel.holder(g["S"]) is None
    assert control.tick(3.0, []).orders["agv0"].base == (g.at(0, 1), g.at(0, 2))


def test_a_failed_agv_is_an_obstacle_and_the_others_route_around_it() -> None:
    g = grid(
        """
        A..F..G
        .#####.
        .......
        """
    )
    script = {"agv0": [SendToPark("agv0", g["G"])]}
    control = control_for(g.floor, ScriptedDispatcher(script))
    loop = Loop(control, {"agv0": g["A"], "failed": g["F"]})
    loop.world.fail("failed")

    # Routed around from the first tick that knows of the failure: down, along the bottom
    # row and up, 10 edges, one per step.
    steps = loop.run_until(lambda: loop.world.bodies["agv0"].node == g["G"], max_steps=80)

    assert g["F"] not in loop.trails["agv0"]
    assert set(loop.trails["failed"]) == {g["F"]}
    assert control.kernel.holder(g["F"]) == "failed"  # its node stays held
    assert control.kernel.is_failed("failed")  # the kernel's own state: never a stall
    assert g["F"] in control.floor.blocked
    assert steps <= 14


def test_a_recovered_agv_is_no_obstacle_and_a_node_the_caller_blocked_stays_blocked() -> None:
    g = grid("A..F..G")
    control = control_for(g.floor, ScriptedDispatcher({}))
    loop = Loop(control, {"failed": g["F"]})
    control.block_node(g["F"])  # the caller's, too (a spill under it, say)
    loop.world.fail("failed")
    loop.step()
    assert g["F"] in control.floor.blocked

    control.unblock_node(g["F"])  # the spill cleared: still the failed AGV's node
    assert g["F"] in control.floor.blocked
    loop.world.recover("failed")
    loop.step()
    assert not control.kernel.is_failed("failed")
    assert control.floor.blocked == frozenset()


def test_a_closed_aisle_is_routed_around_from_the_next_tick() -> None:
    g = grid(LOOP)
    script = {"agv0": [SendToPark("agv0", g["G"])]}
    control = control_for(g.floor, ScriptedDispatcher(script))
    loop = Loop(control, {"agv0": g["A"]})
    loop.step()
    loop.step()  # on its way along the top row, the shortest
    assert loop.trails["agv0"][-1] == g.at(0, 1)

    closed = (g.at(0, 3), g.at(0, 4))
    control.close_edge(*closed)
    _, result = loop.step()
    assert edge_key(*closed) not in {edge_key(*e) for e in pairwise(result.orders["agv0"].base)}
    loop.run_until(lambda: loop.world.bodies["agv0"].node == g["G"], max_steps=40)

    crossed = {edge_key(a, b) for a, b in pairwise(loop.trails["agv0"]) if a != b}
    assert edge_key(*closed) not in crossed
    assert g.at(2, 3) in loop.trails["agv0"]  # round by the bottom row


def test_an_agv_whose_stop_is_cut_off_waits_at_a_parking_node_not_in_a_pocket() -> None:
    g = grid(
        """
        P......
        .......
        #A###S#
        """,
        {"parking": "P", "rack": "A", "station": "S"},
    )
    tasks = [PickTask("t1", g["A"], g["S"], 0.0)]
    planned = trip("agv0", [("t1", g["A"], g["S"])])
    control = control_for(g.floor, ScriptedDispatcher({"agv0": [planned]}))
    loop = Loop(control, {"agv0": g["A"]}, tasks)
    loop.step()  # the trip given: pick at its node, then drop at the station
    control.close_edge(g["S"], g.at(1, 5))  # the station's mouth

    loop.run_until(lambda: loop.world.bodies["agv0"].node == g["P"], max_steps=40)

    assert loop.world.bodies["agv0"].loads == ["t1"]  # picked, and waiting to deliver
    control.open_edge(g["S"], g.at(1, 5))
    loop.run_until(lambda: loop.delivered == ["t1"], max_steps=40)


def test_an_agv_whose_stop_a_failed_agv_cuts_off_waits_at_a_parking_node() -> None:
    g = grid(
        """
        P......
        .......
        #A###S#
        """,
        {"parking": "P", "rack": "A", "station": "S"},
    )
    tasks = [PickTask("t1", g["A"], g["S"], 0.0)]
    planned = trip("agv0", [("t1", g["A"], g["S"])])
    control = control_for(g.floor, ScriptedDispatcher({"agv0": [planned]}))
    loop = Loop(control, {"agv0": g["A"], "failed": g.at(1, 5)}, tasks)  # at the mouth
    loop.step()  # the trip given: pick at its node, then drop at the station
    loop.world.fail("failed")

    loop.run_until(lambda: loop.world.bodies["agv0"].node == g["P"], max_steps=40)

    assert loop.world.bodies["agv0"].loads == ["t1"]  # picked, and waiting to deliver
    assert not control.deliverable(tasks)  # no other tote is sent there meanwhile
    loop.world.recover("failed")
    loop.run_until(lambda: loop.delivered == ["t1"], max_steps=40)


def test_an_agv_with_nothing_to_do_does_not_stay_in_a_station_pocket() -> None:
    g = grid(
        """
        P......
        .......
        ####S##
        """,
        {"parking": "P", "station": "S"},
    )
    control = control_for(g.floor, ScriptedDispatcher())
    loop = Loop(control, {"agv0": g["S"]})

    loop.run_until(lambda: loop.world.bodies["agv0"].node != g["S"], max_steps=5)
    for _ in range(10):
        loop.step()
        assert loop.world.bodies["agv0"].node != g["S"]


def test_a_trip_is_worked_off_stop_by_stop_and_its_totes_delivered() -> None:
    g = grid("A.1..2...S", {"rack": "12", "station": "S"})
    tasks = [PickTask("t1", g["1"], g["S"], 0.0), PickTask("t2", g["2"], g["S"], 0.0)]
    planned = trip("agv0", [("t1", g["1"], g["S"]), ("t2", g["2"], g["S"])])
    control = control_for(g.floor, ScriptedDispatcher({"agv0": [planned]}))
    loop = Loop(control, {"agv0": g["A"]}, tasks)

    _, first = loop.step()
    assert first.trips == (planned,)
    started = control.trip("agv0")
    assert started is not None
    assert [(s.kind, s.node) for s in started.stops] == [
        (StopKind.PICK, g["1"]),
        (StopKind.PICK, g["2"]),
        (StopKind.DROP, g["S"]),
    ]
    loop.run_until(lambda: len(loop.delivered) == 2, max_steps=60)

    assert sorted(loop.delivered) == ["t1", "t2"]
    assert control.trip("agv0") is None
    assert control.tasks_on_trips() == frozenset()


def test_a_failed_agv_hands_back_the_totes_it_had_not_picked() -> None:
    g = grid("A.1......2...S", {"rack": "12", "station": "S"})
    tasks = [PickTask("t1", g["1"], g["S"], 0.0), PickTask("t2", g["2"], g["S"], 0.0)]
    planned = trip("agv0", [("t1", g["1"], g["S"]), ("t2", g["2"], g["S"])])
    control = control_for(g.floor, ScriptedDispatcher({"agv0": [planned]}))
    loop = Loop(control, {"agv0": g["A"]}, tasks)
    loop.run_until(lambda: loop.world.bodies["agv0"].loads == ["t1"], max_steps=30)

    loop.world.fail("agv0")
    _, result = loop.step()

    assert result.returned_tasks == ("t2",)
    assert "t2" in loop.open
    remaining = control.trip("agv0")
    assert remaining is not None
    assert [(s.kind, s.task_ids) for s in remaining.stops] == [(StopKind.DROP, ("t1",))]


def test_sending_an_agv_to_charge_cancels_its_trip_to_a_pickup() -> None:
    g = grid("A........1..C", {"rack": "1", "charger": "C"})
    tasks = [PickTask("t1", g["1"], g["A"], 0.0)]
    script = {
        "agv0": [trip("agv0", [("t1", g["1"], g["A"])]), SendToCharge("agv0", g["C"])],
    }
    control = control_for(g.floor, ScriptedDispatcher(script))
    loop = Loop(control, {"agv0": g["A"]}, tasks)

    _, first = loop.step()  # the trip
    _, second = loop.step()  # the charger, on the way to the pickup

    assert [t.task_ids for t in first.trips] == [("t1",)]
    assert second.sent_to_charge == ("agv0",)
    assert second.returned_tasks == ("t1",)
    charging = control.trip("agv0")
    assert charging is not None
    assert [s.kind for s in charging.stops] == [StopKind.CHARGE]


class _CrossingPlanner:
    """Plans two AGVs facing each other in a corridor straight into each other's base."""

    def __init__(self, floor: CompiledFloor, paths: dict[str, list[int]]) -> None:
        self.floor = floor
        self.paths = paths

    def plan(self, agents: object) -> dict[str, list[int]]:
        return self.paths

    def cut_off(self, node: int, goal: int) -> bool:
        return False


def test_a_deadlock_is_broken_by_the_chosen_agv_giving_way() -> None:
    g = grid("0123")
    planner = _CrossingPlanner(g.floor, {"left": [g["2"]], "right": [g["1"]]})
    control = FleetControl(g.floor, planner, ScriptedDispatcher(), base_depth=2)  # type: ignore[arg-type]
    control.add_agv("left", g["0"])
    control.add_agv("right", g["3"])
    control.kernel.request("left", (g["0"], g["1"]))
    control.kernel.request("right", (g["3"], g["2"]))

    result = control.tick(1.0, [])

    deadlocks = [v for v in result.violations if v.kind is ViolationKind.DEADLOCK]
    assert len(deadlocks) == 1
    yielder = deadlocks[0].agvs[0]
    assert control.kernel.allocation(yielder) == (control.kernel.current_node(yielder),)
    assert control.kernel.waits_for() == {}


class _RogueDispatcher:
    """Gives the same trip every tick, whoever has it."""

    def __init__(self, planned: TripAssignment) -> None:
        self.planned = planned

    def decide(self, agvs: object, tasks: object, now_s: float) -> Decisions:
        return Decisions(trips=(self.planned,))


@pytest.mark.parametrize("busy", ["working", "failed"])
def test_a_trip_for_a_busy_agv_is_a_dispatcher_bug(busy: str) -> None:
    g = grid("A.1.S", {"rack": "1", "station": "S"})
    tasks = [PickTask("t1", g["1"], g["S"], 0.0)]
    planned = trip("agv0", [("t1", g["1"], g["S"])])
    control = control_for(g.floor, _RogueDispatcher(planned))
    control.add_agv("agv0", g["A"])
    control.observe("agv0", g["A"], now_s=1.0, battery_pct=80.0, **{busy: True})  # type: ignore[arg-type]

    with pytest.raises(ValueError, match="busy"):
        control.tick(1.0, tasks)


def test_the_floor_keeps_rack_tables_for_the_whole_fleet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each AGV's goal and the open tasks' pickups the dispatcher weighs: a bound below
    that evicts, every tick, tables the same tick needs again."""
    monkeypatch.setattr(floor_module, "MIN_RACK_TABLES", 1)
    monkeypatch.setattr(floor_module, "RACK_TABLES_BYTES", 4 * 2 * 28)  # two tables of 28 nodes
    g = grid(open_picture(7, 4))
    assert g.floor.rack_table_limit == 2
    control = control_for(g.floor, ScriptedDispatcher({}))
    for k in range(5):
        control.add_agv(f"agv{k}", g.at(0, k))
    assert g.floor.rack_table_limit == 5 * RACK_TABLES_PER_AGV
