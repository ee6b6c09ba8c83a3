"""FleetControl's tick in three: dispatch and the planner's snapshot on the loop, the planner
in a worker process, the kernel's grants on the loop. Planned elsewhere, a tick decides
exactly as `tick` does; a plan installed after the AGVs moved grants only from where their
bases end now; and between ticks each state extends its AGV's base along its plan."""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from itertools import pairwise

import pytest

from controller.dispatch import PickTask, SendToPark
from controller.traffic.control import FleetControl, TickResult
from controller.traffic.floor import CompiledFloor
from controller.traffic.plan_worker import (
    PlannedPaths,
    PlanRequest,
    plan_paths,
    plan_with,
    start_planner,
)
from controller.traffic.planner import MotionPlanner
from controller.traffic.violations import ViolationKind
from simulators.fleet.dispatchers import build_dispatcher
from simulators.fleet.faults import AgvFailure, EdgeClosure
from simulators.fleet.grid import warehouse_grid
from simulators.fleet.sim import FALLBACK_EXPANSIONS, FleetSim, SimConfig, frozen_clock
from tests.unit.fleet_sim.scripted import ScriptedDispatcher
from tests.unit.traffic.grids import Grid, grid

CELLS = 1_500


def _sim(config: SimConfig) -> FleetSim:
    layout = warehouse_grid(CELLS, seed=config.seed)
    floor = CompiledFloor.build(layout.node_ids, layout.xy, layout.edges, layout.goals)
    return FleetSim(floor, build_dispatcher("ours", floor, config.world), config)


def _decided(result: TickResult) -> TickResult:
    """The result without its timings, which no two runs share."""
    return dataclasses.replace(result, timings=None)  # type: ignore[arg-type]


@pytest.fixture
def faulty_config() -> SimConfig:
    probe = _sim(SimConfig(agvs=12, seed=7))
    lane = [probe.floor.index(f"x{x}y1") for x in range(20, 26)]
    closure = EdgeClosure(tuple(pairwise(lane)), at=40, steps=60)
    failures = (AgvFailure("agv003", at=20), AgvFailure("agv006", at=10, steps=50))
    return SimConfig(agvs=12, seed=7, faults=(closure, *failures))


@pytest.fixture
def worker_pool(faulty_config: SimConfig) -> Iterator[tuple[FleetSim, ProcessPoolExecutor]]:
    sim = _sim(faulty_config)
    executor = ProcessPoolExecutor(
        1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_planner,
        initargs=(sim.control.planner_setup(),),
    )
    try:
        yield sim, executor
    finally:
        executor.shutdown(wait=True)


def test_planned_in_a_worker_process_every_tick_decides_as_tick_does(
    faulty_config: SimConfig, worker_pool: tuple[FleetSim, ProcessPoolExecutor]
) -> None:
    # The run has an AGV failed long enough to be routed around and an aisle closed and
    # reopened: the worker's floor must follow the control's.
    steps = 130
    alone = _sim(faulty_config)
    expected = [_decided(report.result) for report in _reports(alone, steps)]
    split, executor = worker_pool
    control = split.control

    def planned_elsewhere(now_s: float, open_tasks: list[PickTask]) -> TickResult:
        request = control.plan_request(now_s, open_tasks)
        return control.install(executor.submit(plan_paths, request).result(), now_s)

    control.tick = planned_elsewhere  # type: ignore[method-assign]
    got = [_decided(report.result) for report in _reports(split, steps)]

    assert sum(len(r.trips) for r in expected) > 5
    assert got == expected
    assert split.metrics.conflicts == 0


def _reports(sim: FleetSim, steps: int) -> list[object]:
    reports: list[object] = []
    sim.run(steps, reports.append)
    return reports


# --- A plan installed late, and states between ticks --------------------------------------

CORRIDOR = "S.........G"


def corridor_control(
    *, lookahead: int | None = 3, base_depth: int = 1
) -> tuple[Grid, FleetControl]:
    g = grid(CORRIDOR)
    planner = MotionPlanner(
        g.floor, horizon=6, seed=1, fallback_max_expansions=FALLBACK_EXPANSIONS, clock=frozen_clock
    )
    script = {"a": [SendToPark("a", g["G"])]}
    control = FleetControl(
        g.floor,
        planner,
        ScriptedDispatcher(script),  # type: ignore[arg-type]
        base_depth=base_depth,
        lookahead=lookahead,
    )
    control.add_agv("a", g["S"])
    return g, control


def at(g: Grid, *cols: int) -> tuple[int, ...]:
    return tuple(g.at(0, col) for col in cols)


def test_a_state_extends_the_base_along_the_plan_up_to_the_lookahead() -> None:
    g, control = corridor_control(lookahead=3)
    assert control.tick(1.0, []).orders["a"].base == at(g, 0, 1)

    released = control.observe("a", g.at(0, 0), now_s=1.5, battery_pct=90.0)

    assert released == at(g, 2, 3)
    assert control.order("a").base == at(g, 0, 1, 2, 3)
    assert control.order("a").horizon == at(g, 4, 5, 6)


def test_the_next_node_frees_the_one_behind_and_releases_one_more() -> None:
    g, control = corridor_control(lookahead=3)
    control.tick(1.0, [])
    control.observe("a", g.at(0, 0), now_s=1.5, battery_pct=90.0)

    released = control.observe("a", g.at(0, 1), now_s=2.0, battery_pct=90.0)

    assert released == at(g, 4)
    assert control.order("a").base == at(g, 1, 2, 3, 4)
    assert control.kernel.holder(g.at(0, 0)) is None
    assert control.observe("a", g.at(0, 1), now_s=2.5, battery_pct=90.0) == ()


def test_without_a_lookahead_a_state_only_confirms() -> None:
    g, control = corridor_control(lookahead=None)
    control.tick(1.0, [])

    released = control.observe("a", g.at(0, 1), now_s=1.5, battery_pct=90.0)

    assert released == ()
    assert control.order("a").base == at(g, 1)


def test_a_state_releases_nothing_before_the_first_plan() -> None:
    g, control = corridor_control(lookahead=3)

    assert control.observe("a", g.at(0, 0), now_s=0.5, battery_pct=90.0) == ()
    assert control.order("a").base == at(g, 0)


def test_the_extension_stops_at_a_node_another_agv_holds() -> None:
    g, control = corridor_control(lookahead=3)
    control.tick(1.0, [])
    control.add_agv("b", g.at(0, 3))

    released = control.observe("a", g.at(0, 0), now_s=1.5, battery_pct=90.0)

    assert released == at(g, 2)
    assert control.kernel.holder(g.at(0, 3)) == "b"


def test_a_state_at_a_node_not_held_is_reported_and_releases_nothing() -> None:
    g, control = corridor_control(lookahead=3)
    control.tick(1.0, [])

    released = control.observe("a", g.at(0, 5), now_s=1.5, battery_pct=90.0)

    assert released == ()
    assert control.order("a").base == at(g, 0, 1)
    violations = control.tick(2.0, []).violations
    assert [v.kind for v in violations] == [ViolationKind.CONFIRM_NOT_HELD]


def test_a_working_agv_is_released_nothing_by_its_states() -> None:
    g, control = corridor_control(lookahead=3)
    control.tick(1.0, [])

    released = control.observe("a", g.at(0, 0), now_s=1.5, battery_pct=90.0, working=True)

    assert released == ()


def test_a_late_plan_is_granted_only_from_where_the_base_ends_now() -> None:
    g, control = corridor_control(lookahead=3, base_depth=3)
    control.tick(1.0, [])  # base 0-3
    request = control.plan_request(2.0, [])  # planned from 3, the base's end then
    assert [agent.node for agent in request.agents] == [g.at(0, 3)]
    planned = plan_here(control, request)
    # Meanwhile the AGV drove on, and its states extended its base along the old plan.
    control.observe("a", g.at(0, 1), now_s=2.2, battery_pct=90.0)
    control.observe("a", g.at(0, 2), now_s=2.4, battery_pct=90.0)
    assert control.order("a").base == at(g, 2, 3, 4, 5)

    result = control.install(planned, 2.5)

    # Asked from 5 along the new plan, never again from 3 or from behind: nothing passed is
    # held again, and the base stays within the depth.
    assert result.orders["a"].base == at(g, 2, 3, 4, 5)
    assert control.kernel.holder(g.at(0, 1)) is None
    assert result.orders["a"].horizon == at(g, 6, 7, 8, 9)
    assert result.violations == ()


def test_a_late_plan_that_misses_the_base_end_grants_nothing_until_the_next_tick() -> None:
    g, control = corridor_control(lookahead=3, base_depth=3)
    control.tick(1.0, [])
    control.plan_request(2.0, [])
    control.observe("a", g.at(0, 1), now_s=2.2, battery_pct=90.0)
    control.observe("a", g.at(0, 2), now_s=2.4, battery_pct=90.0)  # base 2-5
    # A plan that turned back at 4 (so it never reaches 5, where the base ends now).
    stale = PlannedPaths({"a": [g.at(0, 4), g.at(0, 3), g.at(0, 2)]}, 1.0)

    result = control.install(stale, 2.5)

    assert result.orders["a"].base == at(g, 2, 3, 4, 5)
    assert result.orders["a"].horizon == ()
    assert control.observe("a", g.at(0, 3), now_s=2.6, battery_pct=90.0) == ()
    assert control.tick(3.0, []).orders["a"].base == at(g, 3, 4, 5, 6)


def test_a_plan_through_another_agvs_node_is_not_granted_past_it() -> None:
    g, control = corridor_control(lookahead=3, base_depth=3)
    request = control.plan_request(1.0, [])
    control.add_agv("b", g.at(0, 2))  # arrived meanwhile: the plan does not know it
    planned = PlannedPaths({"a": [g.at(0, 1), g.at(0, 2), g.at(0, 3)]}, 1.0)

    result = control.install(planned, 1.5)

    assert result.orders["a"].base == at(g, 0, 1)
    assert control.kernel.holder(g.at(0, 2)) == "b"
    assert request.agents[0].id == "a"


def test_install_needs_a_request() -> None:
    _, control = corridor_control()

    with pytest.raises(ValueError, match="plan_request"):
        control.install(PlannedPaths({}, 0.0), 1.0)


def test_a_request_never_installed_hands_its_trips_to_the_next() -> None:
    _, control = corridor_control()
    control.plan_request(1.0, [])  # its planning failed: never installed

    result = control.install(plan_here(control, control.plan_request(2.0, [])), 2.0)

    assert result.sent_to_park == ("a",)


def plan_here(control: FleetControl, request: PlanRequest) -> PlannedPaths:
    return plan_with(control.planner, request)
