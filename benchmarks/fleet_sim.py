"""Fleet simulation benchmark (issue 5): our dispatcher against the baselines on one seeded
world, and the full control tick at 500 AGVs.

Throughput (default): a saturated floor of ~7k cells (the open backlog kept at twice the
fleet), each dispatcher in turn on the same seed in the same run: same floor, same AGV
starts, same task stream, same kernel and planner; only the dispatcher differs. The
planner's fallback is bounded by work, not wall clock, so the figures repeat exactly.

    python -m benchmarks.fleet_sim --cells 7000 --agvs 50 --hours 2

Tick time: `--steps K` runs our dispatcher for K one-second steps and reports the full
tick (dispatch, planning, kernel requests and check) after `--warmup` ticks, whose cost
(the first tick dispatches the whole fleet at once) is shown apart. Here the planner's
fallback has its own wall-clock budget, as on the edge. A new task's pickup distance
table is computed as it arrives, off the tick, as the edge does at intake; that time is
shown too.

    python -m benchmarks.fleet_sim --cells 42000 --agvs 500 --steps 300
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from controller.traffic.floor import CompiledFloor
from simulators.fleet.dispatchers import DISPATCHERS, build_dispatcher
from simulators.fleet.faults import AgvFailure
from simulators.fleet.grid import WarehouseGrid, warehouse_grid
from simulators.fleet.metrics import RunMetrics, Spread, Summary, percentile
from simulators.fleet.sim import FleetSim, SimConfig, StepReport

BASELINES = ("blind", "nearest")


@dataclass(frozen=True)
class Run:
    dispatcher: str
    summary: Summary
    wall_s: float


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=7_000)
    parser.add_argument("--agvs", type=int, default=50)
    parser.add_argument("--hours", type=float, default=2.0, help="simulated, per dispatcher")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dispatchers", default="ours,blind,nearest")
    parser.add_argument("--capacity", type=int, default=3, help="totes an AGV carries")
    parser.add_argument("--abc", action="store_true", help="skew picks to the near faces")
    parser.add_argument("--steps", type=int, help="tick-time mode: this many steps, ours only")
    parser.add_argument("--warmup", type=int, default=20, help="tick-time mode: ticks left out")
    parser.add_argument(
        "--failures", type=int, default=0, help="tick-time mode: AGVs failing, one by one"
    )
    parser.add_argument(
        "--failed-for", type=int, default=120, help="tick-time mode: steps each failure lasts"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    layout = warehouse_grid(args.cells, seed=args.seed)
    print(
        f"floor: {len(layout.node_ids)} nodes (~{args.cells} asked), "
        + ", ".join(f"{len(v)} {k}" for k, v in layout.goals.items())
        + f"; {args.agvs} AGVs of {args.capacity} totes; seed {args.seed}; "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    report = throughput(layout, args) if args.steps is None else tick_time(layout, args)
    print(f"wall time {time.perf_counter() - started:.0f} s")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2, default=_plain))


def throughput(layout: WarehouseGrid, args: argparse.Namespace) -> dict[str, object]:
    names = [name.strip() for name in args.dispatchers.split(",")]
    unknown = set(names) - set(DISPATCHERS)
    if unknown:
        raise SystemExit(f"unknown dispatchers {sorted(unknown)}: choose from {list(DISPATCHERS)}")
    steps = round(args.hours * 3600)
    config = SimConfig(agvs=args.agvs, seed=args.seed, capacity=args.capacity, abc=args.abc)
    runs = []
    for name in names:
        sim = _sim(layout, name, config)
        t0 = time.perf_counter()
        summary = sim.run(steps).summary()
        runs.append(Run(name, summary, time.perf_counter() - t0))
        print(f"  {name}: {summary.delivered} totes in {runs[-1].wall_s:.0f} s", flush=True)
    print(f"\nsaturated, {args.hours:g} simulated h per dispatcher, same seed, same run")
    print(_table(runs))
    return {"mode": "throughput", "args": vars(args), "runs": [asdict(run) for run in runs]}


def tick_time(layout: WarehouseGrid, args: argparse.Namespace) -> dict[str, object]:
    # Failures spread over the run after the warm-up, each for --failed-for steps.
    spacing = max(1, (args.steps - args.warmup) // (args.failures + 1))
    failures = tuple(
        AgvFailure(f"agv{k:03d}", at=args.warmup + (k + 1) * spacing, steps=args.failed_for)
        for k in range(args.failures)
    )
    config = SimConfig(
        agvs=args.agvs,
        seed=args.seed,
        capacity=args.capacity,
        fallback_expansions=None,
        faults=failures,
    )
    sim = _sim(layout, "ours", config)
    t0 = time.perf_counter()
    counts = sim.floor.table_counts
    at_warmup: list[tuple[int, int]] = []

    def after_step(report: StepReport) -> None:
        if report.now_s == args.warmup:
            at_warmup.append((counts.evicted, counts.recomputed_after_eviction))

    metrics = sim.run(args.steps, after_step)
    wall_s = time.perf_counter() - t0
    warm, steady = args.warmup, _steady(metrics, args.warmup)
    summary = metrics.summary()
    rows = {
        "tick": steady.tick_ms,
        "  dispatch": steady.dispatch_ms,
        "  planner": steady.plan_ms,
        "  kernel": steady.kernel_ms,
    }
    print(
        f"\nfull tick at {args.agvs} AGVs, {args.steps} steps ({warm} warm-up ticks left "
        f"out), {args.failures} failures of {args.failed_for} steps, ms:"
        f"\n{'':12}{'p50':>8}{'p95':>8}{'max':>8}"
    )
    for label, spread in rows.items():
        print(f"{label:12}{spread.p50:8.1f}{spread.p95:8.1f}{spread.max:8.1f}")
    intake = summary.intake_ms
    print(
        f"task intake, off the tick (new pickups' distance tables), ms per step with "
        f"arrivals: p50 {intake.p50:.1f}, p95 {intake.p95:.1f}, max {intake.max:.0f} "
        f"(the first: the whole initial backlog)"
    )
    first = metrics.tick_ms[:warm]
    print(
        f"warm-up ticks: first {first[0]:.0f} ms (the whole fleet dispatched at once), "
        f"then max {max(first[1:], default=math.nan):.0f} ms"
        if first
        else "no warm-up ticks"
    )
    evicted, refetched = at_warmup[0] if at_warmup else (0, 0)
    print(
        f"rack tables: bound {sim.floor.rack_table_limit}, {counts.computed} computed; after "
        f"the warm-up {counts.evicted - evicted} evicted, "
        f"{counts.recomputed_after_eviction - refetched} of them computed again"
    )
    print(
        f"{summary.delivered} totes delivered, {summary.conflicts} conflicts, "
        f"{summary.double_allocations} double allocations, {summary.deadlocks} deadlocks, "
        f"{summary.stalls} stall reports; {wall_s:.0f} s for {args.steps} steps"
    )
    return {
        "mode": "tick",
        "args": vars(args),
        "steady_ms": {label.strip(): asdict(spread) for label, spread in rows.items()},
        "warmup_ms": first,
        "summary": asdict(summary),
    }


@dataclass(frozen=True)
class _Steady:
    tick_ms: Spread
    dispatch_ms: Spread
    plan_ms: Spread
    kernel_ms: Spread


def _steady(metrics: RunMetrics, warmup: int) -> _Steady:
    def spread(values: list[float]) -> Spread:
        kept = values[warmup:]
        return Spread(percentile(kept, 50), percentile(kept, 95), max(kept, default=math.nan))

    return _Steady(
        spread(metrics.tick_ms),
        spread(metrics.dispatch_ms),
        spread(metrics.plan_ms),
        spread(metrics.kernel_ms),
    )


def _sim(layout: WarehouseGrid, name: str, config: SimConfig) -> FleetSim:
    """A fresh floor per run: faults and closures change it, and its tables warm up. Its
    cache of rack tables has the floor's default bound, which grows to the working set
    (every open task's pickup, which the dispatcher weighs in turn, and every AGV's
    goal: 1,000 + 500 in the 500-AGV run, above the ~800 it starts from at 42k nodes)."""
    floor = CompiledFloor.build(layout.node_ids, layout.xy, layout.edges, layout.goals)
    return FleetSim(floor, build_dispatcher(name, floor, config.world), config)


def _table(runs: list[Run]) -> str:
    by_name = {run.dispatcher: run.summary for run in runs}
    rows: list[tuple[str, list[str]]] = [
        ("totes/h", [f"{s.totes_per_h:.0f}" for s in by_name.values()]),
    ]
    for baseline in BASELINES:
        if baseline in by_name and by_name[baseline].totes_per_h > 0:
            base = by_name[baseline].totes_per_h
            rows.append(
                (f"  vs {baseline}", [f"{s.totes_per_h / base:.2f}x" for s in by_name.values()])
            )
    rows += [
        ("trips/h", [f"{s.trips_per_h:.0f}" for s in by_name.values()]),
        ("empty-travel share", [f"{100 * s.empty_share:.0f} %" for s in by_name.values()]),
        ("cycle s p50/p95", [f"{s.cycle_p50_s:.0f}/{s.cycle_p95_s:.0f}" for s in by_name.values()]),
        ("planner ms p50/p95/max", [_spread(s.plan_ms) for s in by_name.values()]),
        ("tick ms p50/p95/max", [_spread(s.tick_ms) for s in by_name.values()]),
        ("conflicts", [str(s.conflicts) for s in by_name.values()]),
        ("double allocations", [str(s.double_allocations) for s in by_name.values()]),
        ("deadlocks detected", [str(s.deadlocks) for s in by_name.values()]),
        (
            "stall reports/longest",
            [f"{s.stalls}/{s.longest_stall_ticks}" for s in by_name.values()],
        ),
        ("flat batteries", [str(s.flat_batteries) for s in by_name.values()]),
        ("wall s", [f"{run.wall_s:.0f}" for run in runs]),
    ]
    width = max(16, *(len(v) + 2 for _, values in rows for v in values))
    lines = [f"{'':24}" + "".join(f"{name:>{width}}" for name in by_name)]
    lines += [f"{label:24}" + "".join(f"{v:>{width}}" for v in values) for label, values in rows]
    return "\n".join(lines)


def _spread(spread: Spread) -> str:
    return f"{spread.p50:.1f}/{spread.p95:.1f}/{spread.max:.0f}"


def _plain(value: object) -> object:
    return str(value)


if __name__ == "__main__":
    main()
