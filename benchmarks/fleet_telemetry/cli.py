"""The command line: every phase `--repeat` times, interleaved; per run figures, a summary,
and the verdict against the target (issue 5: p95 ≤ 100 ms at 500 AGVs, 2 Hz)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import write_json
from benchmarks.fleet_telemetry.machine import listener_pid
from benchmarks.fleet_telemetry.report import print_run, print_summary, safe, summary, verdict
from benchmarks.fleet_telemetry.run import own_broker, run_phase
from benchmarks.fleet_telemetry.site import fleet_on

PHASES = ("receive", "process", "inline")
DEFAULT_PHASES = ("receive", "process")
COMMAND = "python -m benchmarks.fleet_telemetry"


def phase_list(value: str) -> list[str]:
    names = list(PHASES) if value == "all" else [p for p in value.split(",") if p]
    unknown = sorted(set(names) - set(PHASES))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown phase {unknown or value!r}: {','.join(PHASES)}")
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=COMMAND,
        description="500 simulated AGVs at 2 Hz through Mosquitto against the real FleetControl: "
        "ingest-to-decision latency (issue 5: p95 ≤ 100 ms).",
    )
    p.add_argument("--agvs", type=int, default=500)
    p.add_argument("--hz", type=float, default=2.0, help="states per AGV per second")
    p.add_argument("--seconds", type=float, default=30.0, help="publishing time per phase")
    p.add_argument("--repeat", type=int, default=3, help="runs of every phase; medians")
    p.add_argument(
        "--phases",
        type=phase_list,
        default=list(DEFAULT_PHASES),
        help=f"comma-separated, of {','.join(PHASES)}; or all",
    )
    p.add_argument("--cells", type=int, default=42_000, help="floor size (nodes, about)")
    p.add_argument("--seed", type=int, default=1, help="floor, start nodes, tasks")
    p.add_argument("--speed", type=float, default=1.0, help="nodes an AGV drives per second")
    p.add_argument("--tick-period", type=float, default=1.0, help="seconds between ticks")
    p.add_argument(
        "--lookahead",
        type=int,
        default=3,
        help="plan steps each AGV's base is kept ahead of it (FleetControl lookahead and "
        "base depth)",
    )
    p.add_argument(
        "--worker-nice",
        type=int,
        default=10,
        help="how much lower the planning worker process runs than the ingest (os.nice)",
    )
    p.add_argument("--connections", type=int, default=10, help="publisher MQTT clients")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds left out of latency")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument(
        "--spawn-broker",
        action="store_true",
        help="run a Mosquitto of our own with the config the edge ships (edge/broker.py: "
        "set_tcp_nodelay, sized queues) on a free port instead of --host/--port",
    )
    p.add_argument("--json", type=Path, default=None, help="also write every figure here")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    with contextlib.ExitStack() as stack:
        if args.spawn_broker:
            args.host, args.port, broker_pid = stack.enter_context(own_broker())
        elif args.host in ("127.0.0.1", "localhost"):
            broker_pid = listener_pid(args.port)
        else:
            broker_pid = None
        return _run(args, argv, broker_pid)


def _run(args: argparse.Namespace, argv: Sequence[str] | None, broker_pid: int | None) -> int:
    fleet = fleet_on(args.cells, args.agvs, args.seed)
    machine = {
        "cores": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
        "broker_pid": broker_pid,
    }
    print(
        f"{args.agvs} AGVs x {args.hz:g} Hz through {args.host}:{args.port}"
        f"{' (our own Mosquitto, the edge config)' if args.spawn_broker else ''} for "
        f"{args.seconds:g} s per phase, {args.repeat} runs; floor ~{args.cells} nodes (seed "
        f"{args.seed}); real FleetControl, tick every {args.tick_period:g} s, planner in a "
        f"worker process at nice +{args.worker_nice}; lookahead {args.lookahead}; machine: "
        f"{machine['cores']} cores, load average "
        f"{' '.join(map(str, machine['load_average_at_start']))} at start",
        flush=True,
    )
    runs = []
    for repeat in range(args.repeat):
        print(f"run {repeat + 1} of {args.repeat}", flush=True)
        for phase in args.phases:
            run = run_phase(args, fleet, phase, broker_pid)
            run["repeat"] = repeat
            print_run(run)
            runs.append(run)
    rows = summary(runs, args.phases)
    print_summary(rows)
    print(verdict(rows))
    write_json(
        args.json,
        {
            "command": " ".join([COMMAND, *(argv if argv is not None else sys.argv[1:])]),
            "machine": machine,
            "arguments": {k: v for k, v in vars(args).items() if k != "json"},
            "runs": runs,
            "summary": rows,
        },
    )
    failed = [r for r in runs if r["lost"] or not safe(r)]
    return 1 if failed else 0
