"""The motion planner's time per control tick: `MotionPlanner.plan` for 100 and 500 AGVs on a
generated warehouse floor of ~42k cells (`simulators.fleet.grid`).

Each AGV shuttles between a random rack face and a random station; at each it stands
still (frozen, as while picking or dropping) for `--dwell` ticks, then gets its next goal.
A new goal's distance table is computed when the goal is assigned, outside the timed
call, as the dispatcher's cost matrix does in the controller. In the second half of the
run a few aisle edges close (`--closures`), timed on their own: the tables they change
are repaired then. Every tick's first steps are checked against the kernel's rules (no
vertex conflict, no entering an occupied node). Wall and CPU time are both given: on a
shared machine the wall time includes waiting for a core.

    python -m benchmarks.planner_step --agents 100,500 --ticks 600
    python -m benchmarks.planner_step --cells 7000 --agents 100,500 --ticks 600
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import dataclass, replace

from controller.traffic.floor import CompiledFloor
from controller.traffic.planner import STALL_STEPS, AgentState, MotionPlanner
from simulators.fleet.grid import warehouse_grid


@dataclass
class _Shuttle:
    """An AGV's errand: the next goal kind, and how long it still stands at the last one."""

    to_station: bool
    dwell_left: int = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=42_000)
    parser.add_argument("--agents", default="100,500", help="comma-separated fleet sizes")
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--horizon", type=int, default=3)
    parser.add_argument("--dwell", type=int, default=3, help="ticks frozen at each goal")
    parser.add_argument("--no-fallback", action="store_true", help="PIBT alone")
    parser.add_argument("--stall-steps", type=int, default=STALL_STEPS)
    parser.add_argument(
        "--closures", type=int, default=5, help="aisle edges closed in the run's second half"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    started = time.perf_counter()
    layout = warehouse_grid(args.cells, seed=args.seed)
    generated = time.perf_counter()
    floor = CompiledFloor.build(layout.node_ids, layout.xy, layout.edges, layout.goals)
    built = time.perf_counter()
    print(
        f"floor: {floor.node_count} nodes, {len(layout.edges)} edges, "
        f"{len(floor.goals('rack'))} rack faces; generated in {generated - started:.2f} s, "
        f"compiled in {built - generated:.2f} s ({len(floor.cached_goals())} pinned tables)"
    )
    for fleet in (int(x) for x in args.agents.split(",")):
        _run(floor, fleet, args)


def _run(floor: CompiledFloor, fleet: int, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    racks, stations = floor.goals("rack"), floor.goals("station")
    starts = rng.sample(racks, fleet)
    agents = [AgentState(f"agv{k:03d}", v, rng.choice(stations)) for k, v in enumerate(starts)]
    errands = {a.id: _Shuttle(to_station=False) for a in agents}
    table_s = _timed(floor.precompute, [a.goal for a in agents if a.goal is not None])
    planner = MotionPlanner(
        floor,
        horizon=args.horizon,
        seed=args.seed,
        stall_steps=args.stall_steps,
        fallback=not args.no_fallback,
    )
    wall: list[float] = []
    cpu: list[float] = []
    closing: list[float] = []
    closed: list[tuple[int, int]] = []
    arrivals = 0
    for tick in range(args.ticks):
        if tick >= args.ticks // 2 and tick % 10 == 0 and len(closed) < args.closures:
            closed.append(_aisle_edge(floor, rng))
            closing.append(_timed(floor.close_edge, *closed[-1]))
        t0, c0 = time.perf_counter(), time.thread_time()
        paths = planner.plan(agents)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        _check(floor, agents, [paths[a.id][0] for a in agents])
        moved: list[AgentState] = []
        for agent in agents:
            agent = replace(agent, node=paths[agent.id][0])
            errand = errands[agent.id]
            if agent.frozen:
                errand.dwell_left -= 1
                if errand.dwell_left <= 0:
                    goal = rng.choice(stations if errand.to_station else racks)
                    table_s += _timed(floor.precompute, [goal])
                    agent = replace(agent, goal=goal, frozen=False)
                    errand.to_station = not errand.to_station
            elif agent.node == agent.goal:
                arrivals += 1
                errand.dwell_left = args.dwell
                agent = replace(agent, frozen=True)
            moved.append(agent)
        agents = moved
    for edge in closed:
        floor.open_edge(*edge)
    stats = planner.stats
    print(
        f"{fleet} agents, {args.ticks} ticks, horizon {args.horizon}: plan {_summary(wall)} "
        f"wall, {_summary(cpu)} CPU; {arrivals} goals reached; fallback "
        f"{stats.fallback_successes}/{stats.fallback_invocations} found; 0 conflicts; "
        f"goal tables {table_s:.1f} s outside the timed calls"
        + (
            f"; {len(closing)} aisle edges closed, {_summary(closing)} each "
            f"({len(floor.cached_goals())} tables cached)"
            if closing
            else ""
        )
    )


def _aisle_edge(floor: CompiledFloor, rng: random.Random) -> tuple[int, int]:
    """A random edge between two nodes of degree 2 or more (not into a pocket)."""
    while True:
        a = rng.randrange(floor.node_count)
        b = rng.choice(floor.adjacency[a]) if floor.adjacency[a] else a
        if len(floor.adjacency[a]) > 1 and len(floor.adjacency[b]) > 1:
            return a, b


def _summary(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"median {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms"


def _check(floor: CompiledFloor, agents: list[AgentState], moved: list[int]) -> None:
    occupied = {a.node for a in agents}
    if len(set(moved)) != len(moved):
        raise AssertionError("vertex conflict")
    for agent, there in zip(agents, moved, strict=True):
        if there != agent.node and (
            there in occupied or there not in floor.adjacency[agent.node] or agent.frozen
        ):
            raise AssertionError(f"{agent.id}: illegal step {agent.node}->{there}")


def _timed(fn: object, *args: object) -> float:
    """Seconds `fn(*args)` took."""
    t0 = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
