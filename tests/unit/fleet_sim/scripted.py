"""Stand-ins for the fleet control's tests: a dispatcher that gives the trips it was told
to, tasks that all exist from the start, and a small world loop around FleetControl."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from controller.dispatch import (
    AgvSnapshot,
    Decisions,
    PickTask,
    SendToCharge,
    SendToPark,
    TripAssignment,
)
from controller.traffic.control import FleetControl, TickResult
from controller.traffic.floor import CompiledFloor
from controller.traffic.planner import MotionPlanner
from simulators.fleet.demand import ToteRequest
from simulators.fleet.sim import FALLBACK_EXPANSIONS, frozen_clock
from simulators.fleet.world import Body, StepOutcome, World


@dataclass
class ScriptedDispatcher:
    """Each AGV's trips, charges and parks in order: the next one is given as soon as the
    AGV is free for it (a trip also waits for its tasks to be open)."""

    script: dict[str, list[TripAssignment | SendToCharge | SendToPark]] = field(
        default_factory=dict
    )

    def decide(
        self, agvs: Sequence[AgvSnapshot], tasks: Sequence[PickTask], now_s: float
    ) -> Decisions:
        open_ids = {task.id for task in tasks}
        trips, charge, park = [], [], []
        for agv in agvs:
            queue = self.script.get(agv.id)
            if not queue:
                continue
            decision = queue[0]
            if isinstance(decision, SendToCharge):
                charge.append(decision)
            elif not agv.available:
                continue
            elif isinstance(decision, SendToPark):
                park.append(decision)
            elif open_ids.issuperset(decision.task_ids):
                trips.append(decision)
            else:
                continue
            queue.pop(0)
        return Decisions(tuple(trips), tuple(charge), tuple(park))


@dataclass
class FixedDemand:
    """These tasks, all created at the first step."""

    requests: list[ToteRequest]

    def arrivals(self, now_s: float, open_count: int) -> list[ToteRequest]:
        created, self.requests = self.requests, []
        return created


def trip(agv_id: str, tasks: Iterable[tuple[str, int, int]]) -> TripAssignment:
    """A trip picking each (task, pickup, dropoff) in turn, then dropping at the stations
    in the order first needed."""
    tasks = list(tasks)
    stations = list(dict.fromkeys(dropoff for _, _, dropoff in tasks))
    return TripAssignment(
        agv_id, tuple(t for t, _, _ in tasks), (*(p for _, p, _ in tasks), *stations)
    )


def control_for(
    floor: CompiledFloor,
    dispatcher: object,
    *,
    horizon: int = 3,
    seed: int = 1,
    plan_at_base_end: bool = False,
) -> FleetControl:
    planner = MotionPlanner(
        floor,
        horizon=horizon,
        seed=seed,
        fallback_max_expansions=FALLBACK_EXPANSIONS,
        clock=frozen_clock,
    )
    return FleetControl(
        floor,
        planner,
        dispatcher,  # type: ignore[arg-type]
        plan_at_base_end=plan_at_base_end,
    )


class Loop:
    """The world and the control stepped together, as FleetSim does, with tasks given."""

    def __init__(
        self,
        control: FleetControl,
        starts: Mapping[str, int],
        tasks: Sequence[PickTask] = (),
        capacity: int = 3,
    ) -> None:
        self.control = control
        self.world = World([Body(agv_id, node) for agv_id, node in starts.items()])
        for agv_id, node in starts.items():
            control.add_agv(agv_id, node, capacity=capacity)
        self.tasks = {task.id: task for task in tasks}
        self.open = dict(self.tasks)
        self.now_s = 0.0
        self.result: TickResult | None = None
        self.trails = {agv_id: [node] for agv_id, node in starts.items()}
        self.delivered: list[str] = []

    def step(self) -> tuple[StepOutcome, TickResult]:
        self.now_s += 1.0
        orders = {} if self.result is None else self.result.orders
        outcome = self.world.step(orders)
        assert outcome.conflicts == [], outcome.conflicts
        for agv_id in outcome.stops_done:
            self.control.stop_done(agv_id)
        self.delivered += [task_id for _, task_id in outcome.delivered]
        for body in self.world.bodies.values():
            self.control.observe(
                body.id,
                body.node,
                now_s=self.now_s,
                battery_pct=body.battery_pct,
                failed=body.failed,
                working=body.working,
                carrying=len(body.loads),
            )
            self.trails[body.id].append(body.node)
        self.result = self.control.tick(self.now_s, list(self.open.values()))
        for assigned in self.result.trips:
            for task_id in assigned.task_ids:
                del self.open[task_id]
        for task_id in self.result.returned_tasks:
            self.open[task_id] = self.tasks[task_id]
        return outcome, self.result

    def run_until(self, done: Callable[[], bool], max_steps: int) -> int:
        """Steps until `done()` holds; the number of steps taken."""
        for steps in range(1, max_steps + 1):
            self.step()
            if done():
                return steps
        raise AssertionError(f"not done after {max_steps} steps")
