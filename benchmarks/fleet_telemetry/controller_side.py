"""The controller side of the benchmark, without I/O: the real `FleetControl` (the real
`MinCostDispatcher`, `MotionPlanner` and reservation kernel) for the whole fleet on the
generated floor, fed with tasks, taking each state, and installing each tick's plans.

Stops are worked at once: an AGV reporting the node of its pick or drop has done it (no
action time, no actionStates), and batteries stay at 80 % (nobody is sent to charge).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.fleet_telemetry.site import Fleet, serial
from controller.dispatch import PickTask
from controller.traffic.control import FleetControl, TickResult
from controller.traffic.floor import MIN_RACK_TABLES, RACK_TABLES_BYTES, CompiledFloor
from controller.traffic.plan_worker import PlannedPaths, PlanRequest
from controller.traffic.planner import MotionPlanner
from controller.traffic.trips import StopKind
from simulators.fleet.demand import Demand
from simulators.fleet.dispatchers import build_dispatcher
from simulators.fleet.world import WorldConfig

BACKLOG_PER_AGV = 2  # open tasks kept per AGV: saturated, as in the fleet simulation
CAPACITY = 3  # totes an AGV carries


@dataclass
class TickFigures:
    dispatch_ms: list[float] = field(default_factory=list)
    plan_ms: list[float] = field(default_factory=list)  # the planner's own, in the worker
    kernel_ms: list[float] = field(default_factory=list)  # install: requests, check, orders
    intake_ms: list[float] = field(default_factory=list)  # new tasks' distance tables
    violations: Counter[str] = field(default_factory=Counter)
    trips: int = 0
    picked: int = 0
    delivered: int = 0


class ControllerSide:
    def __init__(self, fleet: Fleet, *, lookahead: int, seed: int = 1) -> None:
        layout = fleet.layout()
        backlog = BACKLOG_PER_AGV * fleet.agvs
        default = max(MIN_RACK_TABLES, RACK_TABLES_BYTES // (4 * len(layout.node_ids)))
        floor = CompiledFloor.build(
            layout.node_ids,
            layout.xy,
            layout.edges,
            layout.goals,
            rack_tables=max(default, backlog + 2 * fleet.agvs),  # as benchmarks/fleet_sim.py
        )
        self.floor = floor
        self.node_index = {node_id: i for i, node_id in enumerate(layout.node_ids)}
        # The planner's fallback on its wall-clock budget, as on the edge.
        planner = MotionPlanner(floor, seed=seed)
        self.control = FleetControl(
            floor,
            planner,
            build_dispatcher("ours", floor, WorldConfig()),
            base_depth=lookahead,
            lookahead=lookahead,
        )
        self.serials = [serial(i) for i in range(fleet.agvs)]
        for agv_id, node in zip(self.serials, fleet.starts, strict=True):
            self.control.add_agv(agv_id, node, capacity=CAPACITY)
        self._demand = Demand(
            floor.goals("rack"), floor.goals("station"), random.Random(seed), backlog=backlog
        )
        self.open_tasks: dict[str, PickTask] = {}
        self._tasks: dict[str, PickTask] = {}
        self._carrying = dict.fromkeys(self.serials, 0)
        self._base_ends = dict.fromkeys(self.serials, -1)
        self.ticks = TickFigures()

    # --- the tick ----------------------------------------------------------------------------

    def plan_request(
        self, now_s: float, clock: Callable[[], float] = time.perf_counter
    ) -> PlanRequest:
        """New tasks (their pickups' distance tables computed now, as the edge does at
        intake), then `FleetControl.plan_request`."""
        arrived = self._demand.arrivals(now_s, len(self.open_tasks))
        if arrived:
            started = clock()
            for request in arrived:
                task = PickTask(request.id, request.pickup, request.dropoff, request.created_s)
                self.open_tasks[task.id] = self._tasks[task.id] = task
            self.floor.precompute([request.pickup for request in arrived])
            self.ticks.intake_ms.append((clock() - started) * 1e3)
        return self.control.plan_request(now_s, list(self.open_tasks.values()))

    def install(self, planned: PlannedPaths, now_s: float) -> list[int]:
        """`FleetControl.install`; the AGVs whose base now ends elsewhere than last sent."""
        result = self.control.install(planned, now_s)
        self._record(result)
        return self.changed_bases()

    def changed_bases(self) -> list[int]:
        allocation = self.control.kernel.allocation
        changed = []
        for i, agv_id in enumerate(self.serials):
            end = allocation(agv_id)[-1]
            if end != self._base_ends[agv_id]:
                self._base_ends[agv_id] = end
                changed.append(i)
        return changed

    def base(self, agv: int) -> tuple[int, ...]:
        return self.control.kernel.allocation(self.serials[agv])

    def _record(self, result: TickResult) -> None:
        ticks = self.ticks
        timings = result.timings
        ticks.dispatch_ms.append(timings.dispatch_ms)
        ticks.plan_ms.append(timings.plan_ms)
        ticks.kernel_ms.append(timings.kernel_ms)
        for trip in result.trips:
            ticks.trips += 1
            for task_id in trip.task_ids:
                del self.open_tasks[task_id]
        for task_id in result.returned_tasks:
            self.open_tasks[task_id] = self._tasks[task_id]
        for violation in result.violations:
            ticks.violations[violation.kind.value] += 1

    # --- a state -----------------------------------------------------------------------------

    def on_state(self, agv: int, node: int, battery_pct: float, now_s: float) -> tuple[int, ...]:
        """The decision: confirm the node, extend the base along the plan; an AGV at its
        pick or drop has done it. The nodes newly released."""
        agv_id = self.serials[agv]
        control = self.control
        released = control.observe(
            agv_id,
            node,
            now_s=now_s,
            battery_pct=battery_pct,
            carrying=self._carrying[agv_id],
        )
        trip = control.trip(agv_id)
        stop = None if trip is None else trip.stop
        if stop is not None and stop.kind.works and stop.node == node:
            done = control.stop_done(agv_id)
            if done.kind is StopKind.PICK:
                self._carrying[agv_id] += len(done.task_ids)
                self.ticks.picked += len(done.task_ids)
            elif done.kind is StopKind.DROP:
                self._carrying[agv_id] -= len(done.task_ids)
                self.ticks.delivered += len(done.task_ids)
                for task_id in done.task_ids:
                    self._tasks.pop(task_id, None)
        if released:
            self._base_ends[agv_id] = released[-1]
        return released
