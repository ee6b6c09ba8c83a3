"""The motion planner on a snapshot, in another process: FleetControl's tick split in three.

`FleetControl.plan_request` (on the control loop: dispatch, then a `PlanRequest`, the
snapshot of what the planner needs), `plan_paths` (here, in a worker: the paths), and
`FleetControl.install` (back on the loop: kernel requests, the check, the orders).
`FleetControl.tick` does the three in one call, with its own planner, so that the
simulation and the edge run the same code.

A worker process holds its own `CompiledFloor` and `MotionPlanner`, built once by the
pool's initializer (`start_planner`) from a `PlannerSetup` (`FleetControl.planner_setup`:
the floor as arrays, the planner's settings; all picklable), and kept between ticks: the
planner's priorities and fallback plans are its state. Each request carries the control's
closed edges and blocked nodes, and the worker brings its floor's copy in line before it
plans.

    executor = ProcessPoolExecutor(1, mp_context=spawn, initializer=start_planner,
                                   initargs=(control.planner_setup(),))
    request = control.plan_request(now_s, open_tasks)           # on the loop
    planned = executor.submit(plan_paths, request).result()     # in the worker
    result = control.install(planned, now_s)                    # on the loop
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix

from controller.traffic.floor import GOAL_KINDS, CompiledFloor
from controller.traffic.ids import AgvId, Edge
from controller.traffic.planner import AgentState, MotionPlanner

ClosedEdges = frozenset[Edge]


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """What the planner needs for one tick: every AGV at the end of its base, heading for
    its goal, and the floor's topology of the moment."""

    agents: tuple[AgentState, ...]
    closed: ClosedEdges  # edges closed for the planner
    blocked: frozenset[int]  # nodes the planner must not enter


@dataclass(frozen=True, slots=True)
class PlannedPaths:
    paths: dict[AgvId, list[int]]  # each agent's next steps from its node (waits repeat it)
    plan_ms: float  # the planner's time


@dataclass(frozen=True, slots=True)
class FloorData:
    """A `CompiledFloor`'s nodes and every edge (open or not), as arrays: picklable."""

    node_ids: tuple[str, ...]
    xy: npt.NDArray[np.float64]
    indptr: npt.NDArray[np.int32]
    indices: npt.NDArray[np.int32]
    weights: npt.NDArray[np.float64]
    goals: dict[str, tuple[int, ...]]

    @classmethod
    def of(cls, floor: CompiledFloor) -> FloorData:
        """`floor` as it is now: call it before any edge closes (FleetControl does, when
        it is built), or the closed edges are missing from the copy."""
        return cls(
            tuple(floor.node_id(i) for i in range(floor.node_count)),
            floor.xy,
            floor.indptr,
            floor.indices,
            floor.weights,
            {kind: floor.goals(kind) for kind in GOAL_KINDS},
        )

    def build(self) -> CompiledFloor:
        n = len(self.node_ids)
        graph = csr_matrix((self.weights, self.indices, self.indptr), shape=(n, n))
        return CompiledFloor(self.node_ids, self.xy, graph, self.goals)

    def closed_edges(self, floor: CompiledFloor) -> ClosedEdges:
        """The edges of this data that `floor` (a floor built from it) has closed."""
        n = len(self.node_ids)
        closed = np.setdiff1d(
            _edge_codes(n, self.indptr, self.indices),
            _edge_codes(n, floor.indptr, floor.indices),
            assume_unique=True,
        )
        return frozenset((int(code) // n, int(code) % n) for code in closed)


def _edge_codes(
    n: int, indptr: npt.NDArray[np.int32], indices: npt.NDArray[np.int32]
) -> npt.NDArray[np.int64]:
    """Each undirected edge once, as lower * n + higher."""
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    cols = indices.astype(np.int64)
    keep = rows < cols
    return np.unique(rows[keep] * n + cols[keep])


@dataclass(frozen=True, slots=True)
class PlannerSettings:
    """A `MotionPlanner`'s settings (its state starts afresh). `clock` must be picklable:
    a module-level function such as `time.perf_counter`."""

    horizon: int
    seed: int
    stall_steps: int
    fallback: bool
    fallback_budget_s: float
    fallback_max_expansions: int | None
    fallback_radius: int
    fallback_max_agents: int
    clock: Callable[[], float]

    @classmethod
    def of(cls, planner: MotionPlanner) -> PlannerSettings:
        return cls(
            planner.horizon,
            planner.seed,
            planner.stall_steps,
            planner.fallback,
            planner.fallback_budget_s,
            planner.fallback_max_expansions,
            planner.fallback_radius,
            planner.fallback_max_agents,
            planner.clock,
        )

    def build(self, floor: CompiledFloor) -> MotionPlanner:
        return MotionPlanner(
            floor,
            horizon=self.horizon,
            seed=self.seed,
            stall_steps=self.stall_steps,
            fallback=self.fallback,
            fallback_budget_s=self.fallback_budget_s,
            fallback_max_expansions=self.fallback_max_expansions,
            fallback_radius=self.fallback_radius,
            fallback_max_agents=self.fallback_max_agents,
            clock=self.clock,
        )


@dataclass(frozen=True, slots=True)
class PlannerSetup:
    floor: FloorData
    planner: PlannerSettings


class _Worker:
    """The worker process's planner, on its own copy of the floor."""

    def __init__(self, setup: PlannerSetup) -> None:
        self.floor = setup.floor.build()
        self.planner = setup.planner.build(self.floor)
        self.closed: ClosedEdges = frozenset()

    def sync(self, request: PlanRequest) -> None:
        """Close and open edges, block and unblock nodes, as the control's floor has."""
        floor = self.floor
        for a, b in request.closed - self.closed:
            floor.close_edge(a, b)
        for a, b in self.closed - request.closed:
            floor.open_edge(a, b)
        self.closed = request.closed
        blocked = floor.blocked
        for node in request.blocked - blocked:
            floor.block_node(node)
        for node in blocked - request.blocked:
            floor.unblock_node(node)


_worker: _Worker | None = None  # this process's, made by `start_planner`


def start_planner(setup: PlannerSetup) -> None:
    """The pool's initializer: build this process's floor and planner."""
    global _worker
    _worker = _Worker(setup)


def plan_paths(request: PlanRequest) -> PlannedPaths:
    """The worker's compute: plan `request` with this process's planner."""
    worker = _worker
    if worker is None:
        raise RuntimeError("plan_paths runs in a process started with start_planner")
    worker.sync(request)
    return plan_with(worker.planner, request)


def plan_with(
    planner: MotionPlanner,
    request: PlanRequest,
    clock: Callable[[], float] = time.perf_counter,
) -> PlannedPaths:
    """Plan `request` with `planner`, whose floor is already as the request says."""
    started = clock()
    paths = planner.plan(request.agents)
    return PlannedPaths(paths, (clock() - started) * 1e3)
