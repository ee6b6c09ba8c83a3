"""What the reservation kernel costs per tick for a large fleet (controller/traffic/kernel.py).

A grid floor; every AGV heads for a random goal along an L-shaped route (a stand-in for
the planner: it ignores the other AGVs, so the kernel has real conflicts to refuse). Each
tick: every AGV with a granted node ahead moves one node (`confirm`), every AGV asks for
its next nodes (`request`), then `check`; each deadlock's chosen AGV yields and gets a new
goal, as does each stalled AGV. Prints each phase's median and 95th percentile per tick.

    python -m benchmarks.traffic_kernel --agvs 500 --ticks 300
"""

from __future__ import annotations

import argparse
import random
import time
import timeit
from collections.abc import Sequence

from benchmarks.common import percentile
from controller.traffic.kernel import ReservationKernel
from controller.traffic.violations import ViolationKind


def grid_edges(width: int, height: int) -> list[tuple[int, int]]:
    edges = []
    for node in range(width * height):
        x, y = node % width, node // width
        if x + 1 < width:
            edges.append((node, node + 1))
        if y + 1 < height:
            edges.append((node, node + width))
    return edges


def route(width: int, start: int, goal: int, steps: int) -> list[int]:
    """Up to `steps` nodes from `start` towards `goal`: along the row first, then the column."""
    path = [start]
    node = start
    for _ in range(steps):
        x, y = node % width, node // width
        gx, gy = goal % width, goal // width
        if x != gx:
            node += 1 if gx > x else -1
        elif y != gy:
            node += width if gy > y else -width
        else:
            break
        path.append(node)
    return path


def run(agvs: int, ticks: int, width: int, height: int, lookahead: int, seed: int) -> None:
    rng = random.Random(seed)
    nodes = width * height
    kernel = ReservationKernel(nodes, grid_edges(width, height))
    goal: dict[str, int] = {}
    for i, node in enumerate(rng.sample(range(nodes), agvs)):
        agv_id = f"agv{i:04d}"
        kernel.place(agv_id, node)
        goal[agv_id] = rng.randrange(nodes)
        kernel.set_goal(agv_id, goal[agv_id])

    phases: dict[str, list[float]] = {"confirm": [], "request": [], "check": []}
    moves = 0
    for tick in range(ticks):
        arrivals = [(a, held[1]) for a in goal if len(held := kernel.allocation(a)) > 1]
        for agv_id, target in goal.items():
            if kernel.current_node(agv_id) == target:  # arrived: off to the next one
                goal[agv_id] = rng.randrange(nodes)
                kernel.set_goal(agv_id, goal[agv_id])
        paths = {a: route(width, kernel.current_node(a), g, lookahead) for a, g in goal.items()}

        started = time.perf_counter()
        for agv_id, node in arrivals:
            kernel.confirm(agv_id, node)
        confirmed = time.perf_counter()
        for agv_id, path in paths.items():
            kernel.request(agv_id, path)
        requested = time.perf_counter()
        found = kernel.check(float(tick))
        checked = time.perf_counter()

        phases["confirm"].append(confirmed - started)
        phases["request"].append(requested - confirmed)
        phases["check"].append(checked - requested)
        moves += len(arrivals)
        for violation in found:  # what the caller would do: replan the AGV elsewhere
            if violation.kind in (ViolationKind.DEADLOCK, ViolationKind.STALL):
                replanned = violation.agvs[0]
                kernel.release_ahead(replanned)
                goal[replanned] = rng.randrange(nodes)
                kernel.set_goal(replanned, goal[replanned])

    total = [sum(parts) for parts in zip(*phases.values(), strict=True)]
    print(f"{agvs} AGVs on a {width}x{height} grid, {ticks} ticks, lookahead {lookahead}")
    print(f"moves per tick: {moves / ticks:.0f}; violations: {kernel.violation_counts()}")
    for name, values in [*phases.items(), ("tick", total)]:
        ms = [v * 1000 for v in values]
        print(f"{name:>8}: median {percentile(ms, 50):.2f} ms, p95 {percentile(ms, 95):.2f} ms")
    calibration = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6
    print(f"this machine: sum(range(1000)) takes {calibration:.1f} µs (for scaling the figures)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--agvs", type=int, default=500)
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--width", type=int, default=80)
    parser.add_argument("--height", type=int, default=60)
    parser.add_argument("--lookahead", type=int, default=5, help="nodes per requested path")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    run(args.agvs, args.ticks, args.width, args.height, args.lookahead, args.seed)


if __name__ == "__main__":
    main()
