"""What the edge needs of FleetControl beyond the simulation: trips it decides itself (a tote
stranded on a recovered AGV), trips given up, AGVs moved by hand, the order between ticks,
AGVs planned only once they stand at the end of their base, and deadlocks broken only by an
AGV whose nodes ahead were never sent."""

from __future__ import annotations

from controller.dispatch import SendToPark
from controller.traffic.trips import Stop, StopKind
from controller.traffic.violations import ViolationKind
from tests.unit.fleet_sim.scripted import ScriptedDispatcher, control_for
from tests.unit.traffic.grids import grid


def test_a_trip_the_caller_assigns_is_driven_and_abandoning_it_frees_its_tasks() -> None:
    g = grid("S.....G")
    control = control_for(g.floor, ScriptedDispatcher({}))
    control.add_agv("agv0", g["S"])
    control.assign("agv0", [Stop(g["G"], StopKind.DROP, ("t1",))])
    assert control.tasks_on_trips() == {"t1"}
    order = control.tick(1.0, []).orders["agv0"]
    assert order.stop == Stop(g["G"], StopKind.DROP, ("t1",))
    assert order.base == (g["S"], g.at(0, 1))
    assert control.order("agv0") == order  # the same, between ticks
    assert control.abandon("agv0") == ("t1",)
    assert control.tasks_on_trips() == frozenset()
    assert control.order("agv0").stop is None
    assert control.abandon("agv0") == ()


def test_an_agv_moved_by_hand_holds_its_new_node_alone_unless_another_holds_it() -> None:
    g = grid("A..B..C")
    control = control_for(g.floor, ScriptedDispatcher({}))
    control.add_agv("agv0", g["A"])
    control.add_agv("agv1", g["C"])
    assert control.relocate("agv0", g["B"]) is None
    assert control.kernel.allocation("agv0") == (g["B"],)
    assert control.kernel.holder(g["A"]) is None
    conflict = control.relocate("agv0", g["C"])
    assert conflict is not None
    assert conflict.kind is ViolationKind.PLACE_CONFLICT
    assert control.kernel.allocation("agv0") == (g["B"],)  # nothing changed


def test_an_agv_that_will_not_take_work_is_not_given_a_trip() -> None:
    g = grid("S.....G")
    control = control_for(g.floor, ScriptedDispatcher({"agv0": [SendToPark("agv0", g["G"])]}))
    control.add_agv("agv0", g["S"])
    control.set_takes_work("agv0", False)
    control.tick(1.0, [])
    assert control.order("agv0").stop is None
    control.set_takes_work("agv0", True)
    control.tick(2.0, [])
    assert control.order("agv0").stop == Stop(g["G"], StopKind.PARK)


def test_an_agv_still_driving_its_base_is_planned_only_once_it_reaches_the_end() -> None:
    """On the edge a tick comes every quarter second and an edge takes seconds to drive: an
    AGV between the ends of its base is committed, an obstacle to the others' plans, and
    its own plan waits until it reports the base's last node."""
    g = grid("S.....G")

    def script() -> ScriptedDispatcher:
        return ScriptedDispatcher({"agv0": [SendToPark("agv0", g["G"])]})

    edge = control_for(g.floor, script(), plan_at_base_end=True)
    simulation = control_for(g.floor, script())
    for control in (edge, simulation):
        control.add_agv("agv0", g["S"])
        assert control.tick(1.0, []).orders["agv0"].base == (g["S"], g.at(0, 1))
    assert edge.tick(2.0, []).orders["agv0"].horizon == ()  # driving: no plan beyond
    assert simulation.tick(2.0, []).orders["agv0"].horizon != ()
    edge.observe("agv0", g.at(0, 1), now_s=3.0, battery_pct=90.0)
    order = edge.tick(3.0, []).orders["agv0"]
    assert order.base == (g.at(0, 1), g.at(0, 2))
    assert order.horizon != ()
