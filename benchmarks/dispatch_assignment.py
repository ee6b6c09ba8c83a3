"""How long one dispatch tick takes: 500 AGVs x 500 tasks on a ~42k-node warehouse floor.

For each repetition, one of a few seeded instances (AGVs anywhere on the floor, batteries
40-100 %, capacity 1-4 totes; tasks at random rack faces for 20 stations, created over the
last 10 minutes, half with a due time) is dispatched by:

- `MinCostDispatcher.decide` (the whole tick), and within it the time spent in the floor's
  `distances` (reading precomputed tables, as a cached floor would);
- the raw assignment step alone: `TripPlanner.assign` (costs and solver), and the solver
  (`min_cost_pairs`, i.e. scipy's linear_sum_assignment) alone on its cost matrix;
- `NearestIdleGreedy.decide` and `DistanceBlindGreedy.decide` on the same input.

    python -m benchmarks.dispatch_assignment --agvs 500 --tasks 500 --repeat 50 --seed 1
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from benchmarks.common import markdown_table, median, percentile
from benchmarks.dispatch_floor import PrecomputedTables, WarehouseFloor
from controller.dispatch import (
    AgvSnapshot,
    DispatchPolicy,
    DistanceBlindGreedy,
    MinCostDispatcher,
    NearestIdleGreedy,
    PickTask,
)
from controller.dispatch.assignment import min_cost_pairs

WIDTH, HEIGHT = 322, 234  # about 42k free cells: the large generated floor of issue 5


def make_instance(
    floor: WarehouseFloor, agvs: int, tasks: int, rng: np.random.Generator, now_s: float
) -> tuple[list[AgvSnapshot], list[PickTask]]:
    nodes = rng.choice(floor.nodes, agvs, replace=False)
    fleet = [
        AgvSnapshot(
            id=f"AGV-{i:04d}",
            node=int(nodes[i]),
            battery_pct=float(rng.uniform(40, 100)),
            capacity=int(rng.integers(1, 5)),
            carrying=0,
            available=True,
            charging=False,
            speed_mps=float(rng.uniform(1.0, 1.5)),
        )
        for i in range(agvs)
    ]
    pickups = rng.choice(floor.rack_faces, tasks, replace=False)
    created = now_s - rng.uniform(0, 600, tasks)
    waiting = [
        PickTask(
            id=f"T-{i:05d}",
            pickup=int(pickups[i]),
            dropoff=int(rng.choice(floor.stations)),
            created_s=float(created[i]),
            due_s=float(created[i] + rng.uniform(300, 1800)) if rng.random() < 0.5 else None,
            priority=int(rng.integers(0, 3)),
        )
        for i in range(tasks)
    ]
    return fleet, waiting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agvs", type=int, default=500)
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=50, help="timed ticks per dispatcher")
    parser.add_argument("--instances", type=int, default=5, help="distinct seeded inputs")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    floor = WarehouseFloor.generate(WIDTH, HEIGHT)
    now_s = 3600.0
    instances = [
        make_instance(floor, args.agvs, args.tasks, rng, now_s) for _ in range(args.instances)
    ]
    pickups = [task.pickup for _, tasks in instances for task in tasks]
    goals = np.concatenate([pickups, floor.stations, floor.chargers, floor.parking])
    tables = PrecomputedTables(floor, goals)
    policy = DispatchPolicy(
        chargers=tuple(floor.chargers.tolist()), parking=tuple(floor.parking.tolist())
    )
    ours = MinCostDispatcher(tables, policy)
    nearest = NearestIdleGreedy(tables, policy)
    blind = DistanceBlindGreedy(tables, policy)
    print(
        f"floor: {floor.nodes} nodes ({WIDTH} x {HEIGHT} cells), {len(floor.rack_faces)} rack "
        f"faces, {len(floor.stations)} stations; {len(goals)} distance rows precomputed in "
        f"{tables.build_s:.1f} s; {args.agvs} AGVs x {args.tasks} tasks, "
        f"{args.instances} instances, {args.repeat} ticks each measure; seed {args.seed}; "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}",
        flush=True,
    )

    for fleet, waiting in instances:  # warm: the recurring goals' rows, numpy's first calls
        ours.decide(fleet, waiting, now_s)
        nearest.decide(fleet, waiting, now_s)

    series: dict[str, list[float]] = {
        name: []
        for name in (
            "MinCostDispatcher.decide",
            "  of which distances",
            "  of which the rest",
            "assign (costs + solver)",
            "  solver alone",
            "NearestIdleGreedy.decide",
            "DistanceBlindGreedy.decide",
        )
    }
    trips = totes = 0
    for r in range(args.repeat):
        fleet, waiting = instances[r % len(instances)]
        tables.calls_s = 0.0
        started = time.perf_counter()
        decisions = ours.decide(fleet, waiting, now_s)
        total = (time.perf_counter() - started) * 1000
        series["MinCostDispatcher.decide"].append(total)
        series["  of which distances"].append(tables.calls_s * 1000)
        series["  of which the rest"].append(total - tables.calls_s * 1000)
        trips, totes = len(decisions.trips), len(decisions.assigned_task_ids())

        started = time.perf_counter()
        assignment = ours.planner.assign(fleet, waiting, now_s)
        series["assign (costs + solver)"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        min_cost_pairs(assignment.cost)
        series["  solver alone"].append((time.perf_counter() - started) * 1000)
        for name, baseline in (("NearestIdleGreedy", nearest), ("DistanceBlindGreedy", blind)):
            started = time.perf_counter()
            baseline.decide(fleet, waiting, now_s)
            series[f"{name}.decide"].append((time.perf_counter() - started) * 1000)

    rows = [
        [name, f"{median(v):.1f}", f"{percentile(v, 95):.1f}", f"{max(v):.1f}"]
        for name, v in series.items()
    ]
    print(markdown_table(["ms per tick", "median", "p95", "max"], rows))
    ratio = median(series["MinCostDispatcher.decide"]) / median(series["NearestIdleGreedy.decide"])
    print(
        f"last tick: {trips} trips, {totes} totes. MinCostDispatcher / NearestIdleGreedy "
        f"(median decide): {ratio:.2f}x"
    )


if __name__ == "__main__":
    main()
