"""Narrow corridors: AGVs on both sides of a single-lane corridor, each fetching a tote
from the far side and bringing it back, so every AGV crosses twice against the traffic."""

from __future__ import annotations

import pytest

from controller.dispatch import PickTask
from controller.traffic.violations import ViolationKind
from tests.unit.fleet_sim.scripted import Loop, ScriptedDispatcher, control_for, trip
from tests.unit.traffic.grids import grid

# Rooms of 3 x 4 cells joined by a corridor one cell wide and nine long. Lower-case letters
# are where the AGVs start; digits are the pickups (far side) and drop-offs (own side).
TWO_ROOMS = """
a..1#########4..b
c..2.........5..d
e..3#########6..f
"""
# Each AGV: from the pickup across the corridor back to the drop-off on its own side.
ERRANDS = {"a": ("4", "1"), "c": ("5", "2"), "e": ("6", "3")}
ERRANDS |= {"b": ("1", "4"), "d": ("2", "5"), "f": ("3", "6")}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_agvs_on_both_sides_of_a_single_lane_corridor_all_deliver(seed: int) -> None:
    g = grid(TWO_ROOMS)
    tasks = [
        PickTask(f"t{agv}", g[pickup], g[dropoff], 0.0)
        for agv, (pickup, dropoff) in ERRANDS.items()
    ]
    script = {
        agv: [trip(agv, [(f"t{agv}", g[pickup], g[dropoff])])]
        for agv, (pickup, dropoff) in ERRANDS.items()
    }
    control = control_for(g.floor, ScriptedDispatcher(script), seed=seed)
    loop = Loop(control, {agv: g[agv] for agv in ERRANDS}, tasks)

    def all_delivered() -> bool:
        assert loop.result is not None
        kinds = [v.kind for v in loop.result.violations]
        assert ViolationKind.DOUBLE_ALLOCATION not in kinds
        return len(loop.delivered) == len(tasks)

    steps = loop.run_until(all_delivered, max_steps=600)

    assert sorted(loop.delivered) == sorted(t.id for t in tasks)
    assert control.kernel.deadlocks() == []  # none left standing
    assert steps < 500, steps
