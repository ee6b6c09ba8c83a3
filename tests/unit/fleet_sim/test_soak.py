"""The soak: four simulated hours of two dozen AGVs on a small, busy floor, with AGVs
failing and an aisle closing on the way, every tick checked against the ground truth and
the kernel's invariants."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest

from controller.traffic.floor import CompiledFloor
from controller.traffic.violations import ViolationKind
from simulators.fleet.dispatchers import build_dispatcher
from simulators.fleet.faults import AgvFailure, EdgeClosure
from simulators.fleet.grid import warehouse_grid
from simulators.fleet.sim import FleetSim, SimConfig, StepReport

HOURS = 4
AGVS = 24
CELLS = 1_500
# Kinds that only a broken kernel or a broken caller produces: never, not once.
BROKEN = {
    ViolationKind.DOUBLE_ALLOCATION,
    ViolationKind.OWNER_MISMATCH,
    ViolationKind.CURRENT_NOT_HELD,
    ViolationKind.CONFIRM_NOT_HELD,
    ViolationKind.PLACE_CONFLICT,
}
# An AGV reported stalled (a minute without progress) must get going again within this
# many ticks: waiting for a failed AGV to be cleared is the longest wait planned (the
# others are routed around it from the next tick, but a stop behind it waits).
LONGEST_STALL_TICKS = 15 * 60


@pytest.mark.soak
def test_hours_of_a_busy_fleet_keep_every_invariant_every_tick() -> None:
    layout = warehouse_grid(CELLS, seed=3)
    floor = CompiledFloor.build(layout.node_ids, layout.xy, layout.edges, layout.goals)
    hour = 3_600
    # A cross aisle of storage closed for half an hour; AGVs failing for ten minutes, one
    # for 45. (Not for good: one that fails at a station's mouth closes the station, and
    # the totes on board for it can then never be delivered; test_sim fails one for good.)
    aisle = [floor.index(f"x{x}y9") for x in range(12, 24)]
    faults = (
        EdgeClosure(tuple(pairwise(aisle)), at=hour, steps=hour // 2),
        *(AgvFailure(f"agv{k:03d}", at=(k + 1) * hour // 3, steps=600) for k in range(8)),
        AgvFailure("agv023", at=2 * hour, steps=45 * 60),
    )
    config = SimConfig(agvs=AGVS, seed=11, horizon=1, faults=faults)
    sim = FleetSim(floor, build_dispatcher("ours", floor, config.world), config)
    stalled_for: Counter[str] = Counter()
    kinds: Counter[ViolationKind] = Counter()

    def check(report: StepReport) -> None:
        assert report.outcome.conflicts == [], f"t={report.now_s}: {report.outcome.conflicts}"
        stalled = set()
        for violation in report.result.violations:
            assert violation.kind not in BROKEN, f"t={report.now_s}: {violation}"
            kinds[violation.kind] += 1
            if violation.kind is ViolationKind.STALL:
                stalled.update(violation.agvs)
        for agv_id in list(stalled_for):
            if agv_id not in stalled:
                del stalled_for[agv_id]
        for agv_id in stalled:
            stalled_for[agv_id] += 1
            assert stalled_for[agv_id] <= LONGEST_STALL_TICKS, f"{agv_id} stuck, t={report.now_s}"

    summary = sim.run(HOURS * hour, check).summary()

    assert summary.conflicts == 0
    assert summary.double_allocations == 0
    assert summary.flat_batteries == 0
    assert summary.delivered > 1_000 * HOURS  # the fleet kept working throughout
    assert sim.metrics.returned_tasks > 0  # the failures did hand totes back
    print(
        f"\nsoak: {HOURS} h, {AGVS} AGVs, {floor.node_count} nodes: {summary.delivered} totes "
        f"({summary.totes_per_h:.0f}/h), 0 conflicts, violations {dict(kinds)}, longest "
        f"stall {summary.longest_stall_ticks} ticks, tick p50/p95/max "
        f"{summary.tick_ms.p50:.1f}/{summary.tick_ms.p95:.1f}/{summary.tick_ms.max:.0f} ms"
    )
