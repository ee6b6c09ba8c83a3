"""Totes per hour of each dispatcher in a saturated, traffic-free simulation (a quick check
of the dispatchers alone, not the acceptance run: no collisions, queues or reservations).

A ~7.5k-node generated warehouse (benchmarks/dispatch_floor.py). Every second each
dispatcher decides for the whole fleet; an AGV then drives its stops at its speed along
shortest paths, spending `--handling` seconds per pick and per drop, draining its battery
by the metre and charging at `--charge-rate` % per second. The backlog is kept at
`--backlog` tasks (random rack faces, random stations), so the fleet is never short of work.

    python -m benchmarks.dispatch_throughput --agvs 60 --hours 1 --seed 1
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from benchmarks.dispatch_floor import PrecomputedTables, WarehouseFloor
from controller.dispatch import (
    AgvSnapshot,
    Decisions,
    Dispatcher,
    DispatchPolicy,
    DistanceBlindGreedy,
    MinCostDispatcher,
    NearestIdleGreedy,
    PickTask,
)

WIDTH, HEIGHT = 130, 100  # about 7.5k free cells: the small generated floor of issue 5
PICK_FACES = 1500  # rack faces that hold the totes asked for (rows precomputed for these)


@dataclass
class SimAgv:
    id: str
    node: int
    battery: float
    capacity: int
    speed: float
    busy_until: float = 0.0
    totes: int = 0  # on board or about to be, while on a trip
    charging: bool = False
    then_charge: bool = False

    def snapshot(self, now: float) -> AgvSnapshot:
        free = now >= self.busy_until
        return AgvSnapshot(
            self.id,
            self.node,
            self.battery,
            self.capacity,
            0 if free else self.totes,
            available=free and not self.charging,
            charging=self.charging and free,
            speed_mps=self.speed,
        )


@dataclass
class World:
    floor: WarehouseFloor
    tables: PrecomputedTables
    policy: DispatchPolicy
    agvs: list[SimAgv]
    handling_s: float
    charge_rate: float
    pending: dict[str, PickTask] = field(default_factory=dict)
    delivered: int = 0
    driven_m: float = 0.0

    def distance(self, a: int, b: int) -> float:
        return float(self.tables.table[self.tables.row_of[b], a])

    def apply(self, decisions: Decisions, now: float) -> None:
        by_id = {agv.id: agv for agv in self.agvs}
        for trip in decisions.trips:
            agv = by_id[trip.agv_id]
            route = (agv.node, *trip.stops)
            legs = sum(self.distance(a, b) for a, b in pairwise(route))
            for task_id in trip.task_ids:
                del self.pending[task_id]
            agv.charging = False
            agv.busy_until = now + legs / agv.speed + self.handling_s * len(trip.stops)
            agv.battery -= legs * self.policy.battery_pct_per_m
            agv.node, agv.totes = trip.stops[-1], len(trip.task_ids)
            self.driven_m += legs
        moves = [(order.agv_id, order.charger, True) for order in decisions.charge]
        moves += [(order.agv_id, order.node, False) for order in decisions.park]
        for agv_id, target, to_charge in moves:
            agv = by_id[agv_id]
            legs = self.distance(agv.node, target)
            agv.busy_until = max(agv.busy_until, now) + legs / agv.speed
            agv.battery -= legs * self.policy.battery_pct_per_m
            agv.node, agv.totes, agv.then_charge = target, 0, to_charge
            self.driven_m += legs

    def step(self, now: float) -> None:
        for agv in self.agvs:
            if agv.totes and now >= agv.busy_until:
                self.delivered += agv.totes
                agv.totes = 0
            if agv.then_charge and now >= agv.busy_until:
                agv.charging, agv.then_charge = True, False
            if agv.charging and now >= agv.busy_until:
                agv.battery = min(100.0, agv.battery + self.charge_rate)


def run(
    make: type,
    args: argparse.Namespace,
    floor: WarehouseFloor,
    tables: PrecomputedTables,
    faces: np.ndarray,
) -> dict[str, float]:
    rng = np.random.default_rng(args.seed)  # the same fleet and tasks for every dispatcher
    policy = DispatchPolicy(
        chargers=tuple(floor.chargers.tolist()), parking=tuple(floor.parking.tolist())
    )
    start_nodes = rng.choice(floor.nodes, args.agvs, replace=False)
    fleet = [
        SimAgv(
            f"AGV-{i:03d}",
            int(start_nodes[i]),
            float(rng.uniform(50, 100)),
            capacity=args.capacity,
            speed=args.speed,
        )
        for i in range(args.agvs)
    ]
    world = World(floor, tables, policy, fleet, args.handling, args.charge_rate)
    dispatcher: Dispatcher = make(tables, policy)
    serial = 0
    decide_s = 0.0
    for second in range(int(args.hours * 3600)):
        now = float(second)
        while len(world.pending) < args.backlog:
            serial += 1
            task = PickTask(
                f"T{serial}",
                int(rng.choice(faces)),
                int(rng.choice(floor.stations)),
                created_s=now,
                due_s=now + 1800.0 if rng.random() < args.due_share else None,
            )
            world.pending[task.id] = task
        world.step(now)
        snapshots = [agv.snapshot(now) for agv in world.agvs]
        started = time.perf_counter()
        decisions = dispatcher.decide(snapshots, list(world.pending.values()), now)
        decide_s += time.perf_counter() - started
        world.apply(decisions, now)
    return {
        "totes_per_h": world.delivered / args.hours,
        "m_per_tote": world.driven_m / max(world.delivered, 1),
        "decide_ms": decide_s / (args.hours * 3600) * 1000,
        "lowest_battery": min(agv.battery for agv in world.agvs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agvs", type=int, default=60)
    parser.add_argument("--capacity", type=int, default=4, help="totes an AGV can carry")
    parser.add_argument("--speed", type=float, default=1.2, help="m/s")
    parser.add_argument("--backlog", type=int, default=300, help="tasks kept waiting")
    parser.add_argument("--handling", type=float, default=8.0, help="s per pick and per drop")
    parser.add_argument("--charge-rate", type=float, default=0.05, help="%% per second")
    parser.add_argument("--due-share", type=float, default=0.3, help="tasks with a due time")
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    floor = WarehouseFloor.generate(WIDTH, HEIGHT)
    faces = np.random.default_rng(args.seed + 1).choice(floor.rack_faces, PICK_FACES, False)
    goals = np.concatenate([faces, floor.stations, floor.chargers, floor.parking])
    tables = PrecomputedTables(floor, goals)
    print(
        f"floor: {floor.nodes} nodes, {PICK_FACES} rack faces in use, {len(floor.stations)} "
        f"stations, {len(floor.chargers)} chargers; {args.agvs} AGVs of {args.capacity} totes "
        f"at {args.speed} m/s; backlog {args.backlog}; {args.hours} h; seed {args.seed}",
        flush=True,
    )
    results = {}
    for make in (DistanceBlindGreedy, NearestIdleGreedy, MinCostDispatcher):
        results[make.__name__] = run(make, args, floor, tables, faces)
        print(
            make.__name__, {k: round(v, 2) for k, v in results[make.__name__].items()}, flush=True
        )
    ours = results["MinCostDispatcher"]["totes_per_h"]
    for baseline in ("DistanceBlindGreedy", "NearestIdleGreedy"):
        print(f"MinCostDispatcher / {baseline}: {ours / results[baseline]['totes_per_h']:.2f}x")


if __name__ == "__main__":
    main()
