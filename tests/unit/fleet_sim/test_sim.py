"""The headless fleet simulation: every dispatcher on the same seeded world delivers with no
conflict and no double allocation; a run repeats exactly; faults are ridden out."""

from __future__ import annotations

from itertools import pairwise

import pytest

from controller.traffic.floor import CompiledFloor
from controller.traffic.ids import edge_key
from simulators.fleet.dispatchers import DISPATCHERS, build_dispatcher
from simulators.fleet.faults import AgvFailure, EdgeClosure
from simulators.fleet.grid import warehouse_grid
from simulators.fleet.sim import FleetSim, SimConfig, StepReport

CELLS = 1_500


def _sim(name: str, config: SimConfig) -> FleetSim:
    layout = warehouse_grid(CELLS, seed=config.seed)
    floor = CompiledFloor.build(layout.node_ids, layout.xy, layout.edges, layout.goals)
    return FleetSim(floor, build_dispatcher(name, floor, config.world), config)


@pytest.mark.parametrize("name", sorted(DISPATCHERS))
def test_each_dispatcher_delivers_with_no_conflict_and_no_double_allocation(name: str) -> None:
    sim = _sim(name, SimConfig(agvs=12, seed=5))

    summary = sim.run(900).summary()

    assert summary.conflicts == 0
    assert summary.double_allocations == 0
    assert summary.delivered > 20
    assert summary.flat_batteries == 0
    assert 0.0 < summary.empty_share < 1.0


def test_the_same_seed_repeats_the_run_exactly() -> None:
    runs = [_sim("ours", SimConfig(agvs=10, seed=9)).run(400) for _ in range(2)]

    assert runs[0].delivered == runs[1].delivered > 0
    assert runs[0].metres == runs[1].metres
    assert runs[0].cycle_s == runs[1].cycle_s


def test_a_failed_agv_and_a_closed_aisle_are_ridden_out() -> None:
    probe = _sim("ours", SimConfig(agvs=12, seed=7))
    floor = probe.floor
    # A stretch of the front lane, one cell at a time, in the middle of the floor.
    lane = [floor.index(f"x{x}y1") for x in range(20, 26)]
    closure = EdgeClosure(tuple(pairwise(lane)), at=200, steps=400)
    failures = (AgvFailure("agv003", at=150), AgvFailure("agv006", at=100, steps=200))
    sim = _sim("ours", SimConfig(agvs=12, seed=7, faults=(closure, *failures)))
    where = {agv_id: body.node for agv_id, body in sim.world.bodies.items()}
    closed = {edge_key(a, b) for a, b in closure.edges}
    delivered_after_faults = 0

    def check(report: StepReport) -> None:
        nonlocal delivered_after_faults
        step = int(report.now_s)
        for agv_id, body in sim.world.bodies.items():
            moved = edge_key(where[agv_id], body.node)
            if agv_id == "agv003" and step > 150:
                assert body.node == where[agv_id], "a failed AGV never moves"
            if 200 < step <= 600 and body.node != where[agv_id]:
                assert moved not in closed, f"{agv_id} crossed the closed lane"
            where[agv_id] = body.node
        if step > 300:
            delivered_after_faults += len(report.outcome.delivered)

    summary = sim.run(1_000, check).summary()

    assert summary.conflicts == 0
    assert summary.double_allocations == 0
    assert delivered_after_faults > 10
    recovered = sim.world.bodies["agv006"]
    assert not recovered.failed
