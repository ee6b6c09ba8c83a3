"""The floor of an order push over HTTP: the API with no database work behind it.

The real API process (uvicorn, FastAPI routes, the key check, validation against the site
config, the hand-off to the intake writer, the answer's serialisation) with one change:
the intake writer answers each batch from memory instead of running its transaction, with
an answer shaped as the real one (every line reserved from one bin, three timeline events).
The same orders as benchmarks.order_intake, the same closed-loop clients. What this
reaches is the most any reservation engine behind this HTTP stack could reach on this
machine; the CPU it spends per order is what the load generator and the HTTP layer cost
before the first database round trip.

    python -m benchmarks.intake_floor --clients 1,8,64 --orders 3000 --repeat 3
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from api.db import utcnow
from api.main import create_app as create_real_app
from api.orders import batch, intake
from api.orders.batch import BatchOutcome, Push, Submission
from benchmarks.common import (
    ApiServer,
    int_list,
    markdown_table,
    median,
    run_phase,
    scratch_database,
    site_skus,
    spread,
    work_directory,
    write_json,
)
from benchmarks.loadgen import LoadGenerator
from benchmarks.order_intake import ORDERS_PATH, make_orders, write_intake_site
from controller.domain.orders import OrderStatus
from controller.domain.stock import Allocation, LineAllocation

ANSWERED_FROM_BIN = "FLOOR-01"


class _Tote:
    tote_id = "TOTE-FLOOR"


async def _answer_without_database(self: intake.IntakeWriter, pushes: list[Push]) -> BatchOutcome:
    """Each push answered 201 reserved, built by the real answer builder, nothing stored."""
    del self
    outcome = BatchOutcome()
    now = utcnow()
    for push in pushes:
        lines = push.request.lines
        new = batch._NewOrder(
            push=push,
            site=push.sites[0],
            allocations={
                x.line_id: LineAllocation(x.qty, (Allocation(ANSWERED_FROM_BIN, x.qty),))
                for x in lines
            },
            bins={ANSWERED_FROM_BIN: _Tote()},  # type: ignore[dict-item]  # only tote_id is read
            status=OrderStatus.RESERVED,
            seq=1,
        )
        batch._timeline(new, now)
        outcome.answers[push] = Submission(
            201, batch._response(new, now), (OrderStatus.RECEIVED, OrderStatus.RESERVED)
        )
    return outcome


def create_app() -> FastAPI:
    """uvicorn's factory for the floor process (only ever imported there)."""
    intake.IntakeWriter._commit = _answer_without_database  # type: ignore[method-assign]
    return create_real_app()


SUMMARY_HEADER = [
    "clients",
    "orders/s median (min-max)",
    "p50 ms",
    "p99 ms",
    "errors",
    "client CPU µs/order",
    "API CPU ms/order",
]


def summary_rows(phases: Sequence[dict[str, Any]], clients: list[int]) -> list[list[object]]:
    rows: list[list[object]] = []
    for c in clients:
        runs = [p for p in phases if p["clients"] == c]
        errors = sum(sum(p["errors"].values()) for p in runs)
        rows.append(
            [
                c,
                spread([p["rate"] for p in runs]),
                f"{median([p['p50_ms'] for p in runs]):.1f}",
                f"{median([p['p99_ms'] for p in runs]):.1f}",
                errors,
                f"{median([p['client_cpu_us'] for p in runs]):.0f}",
                f"{median([p['api_cpu_ms'] for p in runs]):.2f}",
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.intake_floor", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--clients", type=int_list, default=[1, 8, 64], help="e.g. 1,8,64")
    parser.add_argument("--orders", type=int, default=3000, help="orders per phase")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions; medians are quoted")
    parser.add_argument("--api-workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--client-procs", type=int, default=1, help="load generator processes")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated orders")
    parser.add_argument("--workdir", type=Path, default=None, help="keep files here (else a tmp)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    phases: list[dict[str, Any]] = []
    with (
        work_directory(args.workdir) as workdir,
        LoadGenerator(args.client_procs) as load,
        # The API still migrates and seeds a database as it starts; the phases never use it.
        scratch_database("sqlite", workdir, "floor", "") as url,
    ):
        site = write_intake_site(workdir / "intake-floor.yaml", units_per_bin=1)
        skus, carriers = site_skus(site)
        with ApiServer(
            database_url=url,
            site_config=site,
            workers=args.api_workers,
            log=workdir / "api-floor.log",
            app_factory="benchmarks.intake_floor:create_app",
        ) as api:
            for rep in range(1, args.repeat + 1):
                for clients in args.clients:
                    rng = random.Random(f"{args.seed}:{rep}:{clients}")
                    bodies = make_orders(rng, f"F{rep}C{clients}", args.orders, skus, carriers)
                    figures = run_phase(
                        load,
                        api,
                        None,
                        path=ORDERS_PATH,
                        clients=clients,
                        bodies=bodies,
                        parse_orders=True,  # as benchmarks.order_intake: the same client work
                    )
                    print(f"floor clients={clients} rep {rep}/{args.repeat}: {figures.line()}")
                    phases.append({"clients": clients, "rep": rep} | figures.as_dict())
    print(
        f"\norder push floor (no database work), {args.orders} orders per run, {args.repeat} "
        f"runs, {args.api_workers} API worker(s), {args.client_procs} load process(es):"
    )
    print(markdown_table(SUMMARY_HEADER, summary_rows(phases, args.clients)))
    write_json(
        args.json, {"args": {"clients": args.clients, "orders": args.orders}, "phases": phases}
    )
    return 1 if any(p["errors"] for p in phases) else 0


if __name__ == "__main__":
    raise SystemExit(main())
