"""The simulated floor's AGVs as physical things, in discrete time: one step is one second.

Each step an AGV either works at its stop (pick, drop, charge take a few steps), or drives
one edge along its released base, never beyond it (as a VDA 5050 AGV obeys its base), or
stands. Batteries drain per metre and per step and refill at a charger. A failed AGV does
nothing at all until it recovers.

The world checks its own ground truth every step, independently of the controller's
kernel: two AGVs on one node, or two AGVs swapping along one edge, is a conflict.

It knows nothing of the controller: orders come in as plain data (`Order`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

PICK, DROP, CHARGE, PARK = "pick", "drop", "startCharging", "park"  # VDA 5050 action types


@dataclass(frozen=True, slots=True)
class WorldConfig:
    pick_steps: int = 4  # a tote out of the rack
    drop_steps: int = 4  # a tote handed over at the station, per tote
    cell_m: float = 1.0  # one edge: what an AGV drives in one step
    drain_pct_per_m: float = 0.02  # ~5,000 m on a full battery
    drain_pct_per_step: float = 0.002  # electronics, lifting: ~14 h standing
    charge_pct_per_step: float = 0.5  # from 20 % to 90 % in under 2.5 min
    charge_to_pct: float = 90.0


class Stop(Protocol):
    """Where the AGV works next and what it does there (the controller's `Stop`)."""

    @property
    def node(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def task_ids(self) -> tuple[str, ...]: ...


class Order(Protocol):
    """What an AGV was last told: the released base (its current node first) and its stop;
    `stop_key` changes with each new stop, so two drops in a row at one station are two."""

    @property
    def base(self) -> tuple[int, ...]: ...
    @property
    def stop(self) -> Stop | None: ...
    @property
    def stop_key(self) -> int: ...


@dataclass(slots=True)
class Job:
    """Work in progress at a stop."""

    key: int  # the order's stop_key
    kind: str
    task_ids: tuple[str, ...]
    steps_left: int  # charging ignores it: it ends when the battery is full enough


@dataclass(slots=True)
class Body:
    """One AGV on the floor."""

    id: str
    node: int
    battery_pct: float = 100.0
    loads: list[str] = field(default_factory=list)  # the task ids of the totes on board
    failed: bool = False
    job: Job | None = None
    done_key: int | None = None  # the last stop finished: it is not worked again

    @property
    def working(self) -> bool:
        return self.job is not None


@dataclass(slots=True)
class StepOutcome:
    """What happened in one step."""

    stops_done: list[str] = field(default_factory=list)  # AGVs that finished their stop
    picked: list[tuple[str, str]] = field(default_factory=list)  # (AGV, task)
    delivered: list[tuple[str, str]] = field(default_factory=list)
    conflicts: list[tuple[str, ...]] = field(default_factory=list)
    metres: float = 0.0
    metres_empty: float = 0.0
    flat_batteries: list[str] = field(default_factory=list)  # AGVs that ran out this step


class World:
    def __init__(self, bodies: Sequence[Body], config: WorldConfig | None = None) -> None:
        self.config = config or WorldConfig()
        self.bodies = {body.id: body for body in bodies}
        if len({body.node for body in bodies}) != len(bodies):
            raise ValueError("two AGVs start on one node")

    def fail(self, agv_id: str) -> None:
        """The AGV stops dead; work in progress is lost and redone after recovery."""
        body = self.bodies[agv_id]
        body.failed = True
        body.job = None

    def recover(self, agv_id: str) -> None:
        self.bodies[agv_id].failed = False

    def step(self, orders: Mapping[str, Order]) -> StepOutcome:
        outcome = StepOutcome()
        moves: dict[str, tuple[int, int]] = {}
        for body in self.bodies.values():
            order = orders.get(body.id)
            if body.failed or order is None:
                continue
            if body.job is not None and body.job.key != order.stop_key:
                body.job = None  # its stop was changed (a charge cut short): stop working
            if body.working or self._starts_work(body, order):
                self._work(body, outcome)
            else:
                target = _next_in_base(order.base, body.node)
                if target is not None and body.battery_pct > 0.0:
                    moves[body.id] = (body.node, target)
            self._drain(body, outcome, moving=body.id in moves)
        for agv_id, (_, target) in moves.items():
            body = self.bodies[agv_id]
            body.node = target
            outcome.metres += self.config.cell_m
            if not body.loads:
                outcome.metres_empty += self.config.cell_m
        outcome.conflicts = self._conflicts(moves)
        return outcome

    def _starts_work(self, body: Body, order: Order) -> bool:
        stop = order.stop
        if stop is None or stop.kind == PARK or stop.node != body.node:
            return False
        if order.stop_key == body.done_key:
            return False
        steps = {PICK: self.config.pick_steps, DROP: self.config.drop_steps}.get(stop.kind, 0)
        steps *= max(1, len(stop.task_ids))
        body.job = Job(order.stop_key, stop.kind, stop.task_ids, steps)
        return True

    def _work(self, body: Body, outcome: StepOutcome) -> None:
        job = body.job
        assert job is not None
        if job.kind == CHARGE:
            body.battery_pct = min(100.0, body.battery_pct + self.config.charge_pct_per_step)
            if body.battery_pct < self.config.charge_to_pct:
                return
        else:
            job.steps_left -= 1
            if job.steps_left > 0:
                return
        if job.kind == PICK:
            body.loads.extend(job.task_ids)
            outcome.picked.extend((body.id, t) for t in job.task_ids)
        elif job.kind == DROP:
            for task_id in job.task_ids:
                body.loads.remove(task_id)
                outcome.delivered.append((body.id, task_id))
        body.done_key, body.job = job.key, None
        outcome.stops_done.append(body.id)

    def _drain(self, body: Body, outcome: StepOutcome, *, moving: bool) -> None:
        if body.battery_pct <= 0.0:
            return
        used = self.config.drain_pct_per_step
        if moving:
            used += self.config.drain_pct_per_m * self.config.cell_m
        body.battery_pct = max(0.0, body.battery_pct - used)
        if body.battery_pct == 0.0:
            outcome.flat_batteries.append(body.id)

    def _conflicts(self, moves: Mapping[str, tuple[int, int]]) -> list[tuple[str, ...]]:
        """Ground truth after the step: nodes with two AGVs, edges crossed both ways."""
        found: list[tuple[str, ...]] = []
        on: dict[int, list[str]] = {}
        for body in self.bodies.values():
            on.setdefault(body.node, []).append(body.id)
        found.extend(tuple(ids) for ids in on.values() if len(ids) > 1)
        crossing = {edge: agv_id for agv_id, edge in moves.items()}
        for agv_id, (a, b) in moves.items():
            other = crossing.get((b, a))
            if other is not None and agv_id < other:
                found.append((agv_id, other))
        return found


def _next_in_base(base: tuple[int, ...], here: int) -> int | None:
    """The node after `here` along the base, if the base goes on."""
    try:
        at = base.index(here)
    except ValueError:
        return None  # not on its base: an order for another position; it stands
    return base[at + 1] if at + 1 < len(base) else None
