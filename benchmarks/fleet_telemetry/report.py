"""The figures of a phase, joined from the publisher's and the ingest's tables, and how they
are printed: per run, a summary over the runs, and the verdict against the target."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import Any

from benchmarks.common import median, percentile, spread

TARGET_P95_MS = 100.0  # issue 5 acceptance: ingest-to-decision p95 at 500 AGVs, 2 Hz


def _ms(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
    }


def figures(
    args: argparse.Namespace,
    phase: str,
    published: dict[str, Any],
    ingested: dict[str, Any],
    load: dict[str, Any],
) -> dict[str, Any]:
    agvs, reports = args.agvs, published["reports"]
    total = agvs * reports
    warmup = math.ceil(args.warmup * args.hz)  # reports per AGV left out of the latencies
    send_ns, lag_ns = published["send_ns"], published["lag_ns"]
    records = ingested["records"]
    seen = bytearray(total)
    duplicates = strays = 0
    latency, to_handler, in_handler = [], [], []
    for agv, header, recv, done in zip(
        records.agv, records.header, records.recv_ns, records.done_ns, strict=True
    ):
        s = header * agvs + agv
        if not 0 <= s < total:
            strays += 1
            continue
        if seen[s]:
            duplicates += 1
            continue
        seen[s] = 1
        if header < warmup:
            continue
        sent = send_ns[s]
        latency.append((done - sent) / 1e6)
        to_handler.append((recv - sent) / 1e6)
        in_handler.append((done - recv) / 1e6)
    received = sum(seen)
    offered = total - published["failures"]
    span_s = (send_ns[total - 1] - send_ns[0]) / 1e9 if total > 1 else math.nan
    lags = [lag / 1e6 for lag in lag_ns[warmup * agvs :]]
    messages = max(ingested["received"], 1)
    kernel_violations = ingested["kernel_violations"]
    return {
        "phase": phase,
        "agvs": agvs,
        "hz": args.hz,
        "offered": offered,
        "received": received,
        "lost": offered - received,
        "duplicates": duplicates,
        "strays": strays,
        "publish_failures": published["failures"],
        "offered_per_s": (total - 1) / span_s if span_s > 0 else math.nan,
        "publisher_lag_ms": _ms(lags),
        "publisher_cores": published["cpu_s"] / span_s if span_s > 0 else math.nan,
        "latency_ms": _ms(latency),
        "to_handler_ms": _ms(to_handler),
        "in_handler_ms": _ms(in_handler),
        "measured": len(latency),
        "ingest_loop_cpu_us": ingested["loop_cpu_s"] / messages * 1e6,
        "ingest_process_cores": ingested["process_cpu_s"] / load["wall_s"],
        "decisions": ingested["counts"],
        "traffic": {
            **published["drive"],
            "bases_sent": ingested["bases_sent"],
            "trips": ingested["trips"],
            "picked": ingested["picked"],
            "delivered": ingested["delivered"],
            "double_allocations": kernel_violations.get("double_allocation", 0),
            "kernel_violations": kernel_violations,
            "tick_violations": ingested["tick_violations"],
        },
        "tick": {
            "ticks": len(ingested["tick_compute_s"]),
            "warmup_s": ingested["warmup_s"],
            "snapshot_to_installed_ms": _ms([c * 1000 for c in ingested["tick_compute_s"]]),
            "install_ms": _ms([c * 1000 for c in ingested["tick_install_s"]]),
            "dispatch_ms": _ms(ingested["dispatch_ms"]),
            "plan_ms": _ms(ingested["plan_ms"]),
            "kernel_ms": _ms(ingested["kernel_ms"]),
            "intake_ms": _ms(ingested["intake_ms"]),
            "overruns": ingested["tick_overruns"],
            "failures": ingested["tick_failures"],
            "crash": ingested["tick_crash"],
        },
        "machine": load,
    }


def safe(run: dict[str, Any]) -> bool:
    """No two AGVs on one node, no node granted twice, nothing lost, the tick never broke."""
    traffic, tick = run["traffic"], run["tick"]
    return (
        traffic["conflicts"] == 0
        and traffic["double_allocations"] == 0
        and tick["failures"] == 0
        and tick["crash"] is None
        and not run["decisions"].get("errors")
    )


def print_run(run: dict[str, Any]) -> None:
    lat, lag, machine = run["latency_ms"], run["publisher_lag_ms"], run["machine"]
    print(
        f"  {run['phase']:>8}: latency p50 {lat['p50']:.1f} p95 {lat['p95']:.1f} "
        f"p99 {lat['p99']:.1f} max {lat['max']:.1f} ms | offered {run['offered']} "
        f"({run['offered_per_s']:.0f}/s), received {run['received']}, lost {run['lost']} | "
        f"publisher lag p95 {lag['p95']:.1f} max {lag['max']:.1f} ms",
        flush=True,
    )
    to_h, in_h = run["to_handler_ms"], run["in_handler_ms"]
    print(
        f"            publish→handler p50 {to_h['p50']:.1f} p95 {to_h['p95']:.1f} ms, "
        f"in handler p50 {in_h['p50']:.2f} p95 {in_h['p95']:.2f} ms | ingest loop "
        f"{run['ingest_loop_cpu_us']:.0f} µs/msg, process {run['ingest_process_cores']:.2f} "
        f"cores | publisher {run['publisher_cores']:.2f} cores",
        flush=True,
    )
    tick = run["tick"]
    if tick["ticks"]:
        print(
            f"            tick: {tick['ticks']} ticks (warm-up ticks before the start: "
            f"{tick['warmup_s']:.1f} s), snapshot→installed p50 "
            f"{tick['snapshot_to_installed_ms']['p50']:.0f} p95 "
            f"{tick['snapshot_to_installed_ms']['p95']:.0f} max "
            f"{tick['snapshot_to_installed_ms']['max']:.0f} ms; on the loop: intake p95 "
            f"{tick['intake_ms']['p95']:.1f}, dispatch p50 {tick['dispatch_ms']['p50']:.1f} "
            f"p95 {tick['dispatch_ms']['p95']:.1f} max {tick['dispatch_ms']['max']:.0f}, "
            f"install p50 {tick['kernel_ms']['p50']:.1f} p95 {tick['kernel_ms']['p95']:.1f} ms; "
            f"planner p50 {tick['plan_ms']['p50']:.0f} p95 {tick['plan_ms']['p95']:.0f} max "
            f"{tick['plan_ms']['max']:.0f} ms; overruns {tick['overruns']}, failures "
            f"{tick['failures']}{', CRASHED ' + tick['crash'] if tick['crash'] else ''}",
            flush=True,
        )
    traffic = run["traffic"]
    if run["phase"] != "receive":
        print(
            f"            traffic: {traffic['moves']} nodes driven, {traffic['waits']} waits "
            f"for a grant, {traffic['trips']} trips, {traffic['picked']} totes picked, "
            f"{traffic['delivered']} delivered | conflicts {traffic['conflicts']}, double "
            f"allocations {traffic['double_allocations']}, kernel violations "
            f"{traffic['kernel_violations'] or 0}, tick violations "
            f"{traffic['tick_violations'] or 0}",
            flush=True,
        )
    others = ", ".join(f"{o['name']} {o['cores']:.2f}" for o in machine["top_others"])
    others += f", exited {machine['other_gone_cores']:.2f}"
    print(
        f"            decisions {run['decisions']} | machine busy {machine['busy_cores']:.2f} "
        f"cores: benchmark {machine['benchmark_cores']:.2f}, broker "
        f"{machine['broker_cores']:.2f}, others {machine['other_cores']:.2f} ({others}); "
        f"load average {' '.join(f'{x:.2f}' for x in machine['load_average'])}",
        flush=True,
    )


def summary(runs: list[dict[str, Any]], phases: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for phase in phases:
        mine = [r for r in runs if r["phase"] == phase]
        if not mine:
            continue
        rows.append(
            {
                "phase": phase,
                "runs": len(mine),
                **{
                    f"{q}_ms": [r["latency_ms"][q] for r in mine]
                    for q in ("p50", "p95", "p99", "max")
                },
                "lost": sum(r["lost"] for r in mine),
                "offered_per_s": [r["offered_per_s"] for r in mine],
                "plan_p95_ms": [r["tick"]["plan_ms"]["p95"] for r in mine],
                "overruns": sum(r["tick"]["overruns"] for r in mine),
                "conflicts": sum(r["traffic"]["conflicts"] for r in mine),
                "double_allocations": sum(r["traffic"]["double_allocations"] for r in mine),
                "ingest_loop_cpu_us": [r["ingest_loop_cpu_us"] for r in mine],
                "other_cores": [r["machine"]["other_cores"] for r in mine],
                "safe": all(safe(r) for r in mine),
            }
        )
    return rows


def print_summary(rows: list[dict[str, Any]]) -> None:
    print(
        "\n| phase | runs | p50 ms | p95 ms | max ms | lost | offered msg/s | planner p95 ms "
        "| overruns | conflicts | double alloc. | ingest loop µs/msg | other load (cores) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        cells = [
            row["phase"],
            row["runs"],
            spread(row["p50_ms"], "{:.1f}"),
            spread(row["p95_ms"], "{:.1f}"),
            spread(row["max_ms"], "{:.0f}"),
            row["lost"],
            spread(row["offered_per_s"], "{:.0f}"),
            spread(row["plan_p95_ms"], "{:.0f}") if row["phase"] != "receive" else "-",
            row["overruns"],
            row["conflicts"],
            row["double_allocations"],
            spread(row["ingest_loop_cpu_us"], "{:.0f}"),
            spread(row["other_cores"], "{:.2f}"),
        ]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    print("(median of the runs, min-max in brackets)")


def verdict(rows: list[dict[str, Any]]) -> str:
    lines = []
    for row in rows:
        if row["phase"] == "receive":
            continue
        if any(math.isnan(p95) for p95 in row["p95_ms"]):
            lines.append(f"{row['phase']}: no state after the warm-up to judge")
            continue
        held = sum(p95 <= TARGET_P95_MS for p95 in row["p95_ms"])
        met = held == row["runs"] and row["safe"] and row["lost"] == 0
        lines.append(
            f"{row['phase']}: p95 ≤ {TARGET_P95_MS:.0f} ms in {held} of {row['runs']} runs "
            f"(median p95 {median(row['p95_ms']):.1f} ms), lost {row['lost']}, conflicts "
            f"{row['conflicts']}, double allocations {row['double_allocations']}: "
            f"{'MET' if met else 'NOT MET'}"
        )
    return "; ".join(lines)
