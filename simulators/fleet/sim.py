"""FleetSim: a headless fleet simulation in discrete time (one step is one second, one edge
per step), driven by the controller's own decision loop, `FleetControl`, the code the
edge runs. There is no MQTT here: the AGVs' states go straight into `observe`, and the
orders straight out of `tick` into the world.

Unlike the device simulators this harness imports the controller: its point is to run
the real decision code against a world that checks its own ground truth (`world.py`
knows nothing of the controller).

Each step: faults due now are injected; the world moves every AGV one edge along its
released base at most, or lets it work at its stop; every AGV reports its state; the
finished stops are reported; new tasks arrive; `FleetControl.tick` decides; its orders
are what the world executes next step. The kernel's check runs every tick inside the
tick, and its violations are counted here.

Comparing dispatchers: the world, the kernel and the planner are the same and only the
dispatcher differs, so differences in throughput are the dispatcher's alone. The
distance-blind greedy baseline is openTCS's default dispatching; run with openTCS's own
routing (shortest paths, no cooperative planning) it would do worse, not better, so the
ratios here understate nothing in our favour.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from controller.dispatch import Dispatcher, PickTask
from controller.traffic.control import AgvOrder, FleetControl, TickResult
from controller.traffic.floor import CompiledFloor
from controller.traffic.planner import HORIZON, MotionPlanner
from controller.traffic.violations import ViolationKind
from simulators.fleet.demand import Demand, DemandSource
from simulators.fleet.faults import AgvFailure, EdgeClosure, Fault
from simulators.fleet.metrics import RunMetrics
from simulators.fleet.world import Body, StepOutcome, World, WorldConfig

# The planner's fallback search bounded by work per tick, not by wall clock, so that a run
# repeats exactly: about what its 20 ms budget allows here (~80 expansions of 16 agents).
FALLBACK_EXPANSIONS = 100


@dataclass(frozen=True)
class SimConfig:
    agvs: int
    seed: int = 1
    capacity: int = 3  # totes an AGV carries at once
    backlog_per_agv: float | None = 2.0  # saturated: open tasks kept at this many per AGV
    arrivals_per_h: float | None = None  # otherwise: Poisson arrivals
    abc: bool = False  # skew the picks towards the faces nearest the stations
    world: WorldConfig = field(default_factory=WorldConfig)
    base_depth: int = 1
    horizon: int = HORIZON  # planned steps per tick; only the first is released
    fallback_expansions: int | None = FALLBACK_EXPANSIONS  # per tick; None: wall-clock budget
    faults: tuple[Fault, ...] = ()


@dataclass(frozen=True, slots=True)
class StepReport:
    now_s: float
    outcome: StepOutcome
    result: TickResult


class FleetSim:
    """One run: a fresh floor (faults change it), one dispatcher built on that floor."""

    def __init__(
        self,
        floor: CompiledFloor,
        dispatcher: Dispatcher,
        config: SimConfig,
        *,
        starts: Sequence[int] | None = None,
        demand: DemandSource | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """`starts`: the AGVs' nodes (default: parking, then random free nodes); `demand`:
        where tasks come from (default: seeded, as the config says)."""
        self.floor = floor
        self.config = config
        self._clock = clock
        rng = random.Random(config.seed)
        deterministic = config.fallback_expansions is not None
        planner = MotionPlanner(
            floor,
            horizon=config.horizon,
            seed=config.seed,
            fallback_max_expansions=config.fallback_expansions,
            clock=frozen_clock if deterministic else clock,
        )
        self.control = FleetControl(
            floor, planner, dispatcher, base_depth=config.base_depth, clock=clock
        )
        if starts is None:
            starts = _start_nodes(floor, config.agvs, rng)
        elif len(starts) != config.agvs:
            raise ValueError(f"{len(starts)} start nodes for {config.agvs} AGVs")
        bodies = [Body(f"agv{k:03d}", node) for k, node in enumerate(starts)]
        for body in bodies:
            self.control.add_agv(body.id, body.node, capacity=config.capacity)
        self.world = World(bodies, config.world)
        tasks_rng = random.Random(rng.random())
        self.demand = demand if demand is not None else _demand(floor, config, tasks_rng)
        self.metrics = RunMetrics()
        self.open_tasks: dict[str, PickTask] = {}  # not on any trip, oldest first
        self._undelivered: dict[str, PickTask] = {}
        self._orders: dict[str, AgvOrder] = {}
        self._stalled_for: dict[str, int] = {}
        self.now_s = 0.0

    def run(self, steps: int, on_step: Callable[[StepReport], None] | None = None) -> RunMetrics:
        for _ in range(steps):
            report = self.step()
            if on_step is not None:
                on_step(report)
        return self.metrics

    def step(self) -> StepReport:
        self.now_s += 1.0
        now_s, control = self.now_s, self.control
        self._inject_faults(int(now_s))
        outcome = self.world.step(self._orders)
        for agv_id in outcome.stops_done:
            control.stop_done(agv_id)
        for body in self.world.bodies.values():
            control.observe(
                body.id,
                body.node,
                now_s=now_s,
                battery_pct=body.battery_pct,
                failed=body.failed,
                working=body.working,
                carrying=len(body.loads),
            )
        # Saturated means work the fleet can do: tasks for a station cut off do not count.
        open_count = len(control.deliverable(list(self.open_tasks.values())))
        arrived = self.demand.arrivals(now_s, open_count)
        for request in arrived:
            task = PickTask(request.id, request.pickup, request.dropoff, request.created_s)
            self.open_tasks[task.id] = self._undelivered[task.id] = task
        self._intake([request.pickup for request in arrived])
        result = control.tick(now_s, list(self.open_tasks.values()))
        self._orders = result.orders
        self._record(outcome, result)
        return StepReport(now_s, outcome, result)

    def _intake(self, pickups: list[int]) -> None:
        """Each new task's pickup distance table, computed as the task arrives, as the
        edge does at task intake (in the background, off the control tick): otherwise
        the dispatcher would compute it in the tick where the task first becomes a
        candidate, ~7 ms a table on a 42k-node floor, a hundred at once after a burst."""
        if pickups:
            started = self._clock()
            self.floor.precompute(pickups)
            self.metrics.intake_ms.append((self._clock() - started) * 1e3)

    def _inject_faults(self, step: int) -> None:
        for fault in self.config.faults:
            if isinstance(fault, AgvFailure):
                if step == fault.at:
                    self.world.fail(fault.agv_id)
                elif fault.steps is not None and step == fault.at + fault.steps:
                    self.world.recover(fault.agv_id)
            elif isinstance(fault, EdgeClosure):
                if step == fault.at:
                    for a, b in fault.edges:
                        self.control.close_edge(a, b)
                elif fault.steps is not None and step == fault.at + fault.steps:
                    for a, b in fault.edges:
                        self.control.open_edge(a, b)

    def _record(self, outcome: StepOutcome, result: TickResult) -> None:
        metrics = self.metrics
        metrics.steps += 1
        metrics.metres += outcome.metres
        metrics.metres_empty += outcome.metres_empty
        metrics.conflicts += len(outcome.conflicts)
        metrics.flat_batteries += len(outcome.flat_batteries)
        for _, task_id in outcome.delivered:
            metrics.delivered += 1
            metrics.cycle_s.append(self.now_s - self._undelivered.pop(task_id).created_s)
        for trip in result.trips:
            metrics.trips += 1
            for task_id in trip.task_ids:
                del self.open_tasks[task_id]
        for task_id in result.returned_tasks:
            metrics.returned_tasks += 1
            self.open_tasks[task_id] = self._undelivered[task_id]
        stalled = set()
        for violation in result.violations:
            metrics.violations[violation.kind.value] += 1
            if violation.kind is ViolationKind.STALL:
                stalled.update(violation.agvs)
        self._stalled_for = {a: self._stalled_for.get(a, 0) + 1 for a in stalled}
        metrics.longest_stall_ticks = max(
            metrics.longest_stall_ticks, max(self._stalled_for.values(), default=0)
        )
        timings = result.timings
        metrics.plan_ms.append(timings.plan_ms)
        metrics.dispatch_ms.append(timings.dispatch_ms)
        metrics.kernel_ms.append(timings.kernel_ms)
        metrics.tick_ms.append(timings.total_ms)


def frozen_clock() -> float:
    """The planner's clock in a repeatable run: its fallback budget never runs out, so the
    expansions per tick alone bound it."""
    return 0.0


def _start_nodes(floor: CompiledFloor, count: int, rng: random.Random) -> list[int]:
    """Parking first, then random nodes that are nobody's goal (lanes, aisle ends)."""
    parking = list(floor.goals("parking"))
    goals = {n for kind in ("rack", "station", "charger", "parking") for n in floor.goals(kind)}
    others = [n for n in range(floor.node_count) if n not in goals]
    rng.shuffle(parking)
    rng.shuffle(others)
    starts = (parking + others)[:count]
    if len(starts) < count:
        raise ValueError(f"no room for {count} AGVs on {floor.node_count} nodes")
    return starts


def _demand(floor: CompiledFloor, config: SimConfig, rng: random.Random) -> Demand:
    racks, stations = floor.goals("rack"), floor.goals("station")
    nearest = None
    if config.abc:
        rows = floor.distance_rows(list(stations))
        nearest = rows[:, list(racks)].min(axis=0).tolist()
    backlog = None
    if config.backlog_per_agv is not None:
        backlog = max(1, round(config.backlog_per_agv * config.agvs))
    return Demand(
        racks,
        stations,
        rng,
        backlog=backlog,
        per_hour=None if backlog is not None else config.arrivals_per_h,
        abc_by_distance=nearest,
    )
