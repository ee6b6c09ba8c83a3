"""Order intake with reservation over HTTP: orders/s and p50/p99 latency by concurrency.

For each database: first the raw conditional-update limit (benchmarks.raw_conditional_update)
in a database of its own; then the API as a separate process on a fresh database, with a
copy of the demo site whose bins hold more than the whole run can order; a warm-up; a
`GET /healthz` ceiling (what the HTTP stack alone serves); then, repeated, for each client
count, a fixed number of unique orders of 1-3 lines (seeded SKUs and quantities) pushed by
closed-loop keep-alive clients. Any answer but 201, and any order not `reserved`, is an
error. Medians of the repetitions are quoted, and the ratio to the raw limit.

    python -m benchmarks.order_intake --db sqlite,postgres --clients 1,8,64 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from benchmarks import raw_conditional_update as raw
from benchmarks.common import (
    ApiServer,
    Figures,
    PgBackendCpu,
    add_common_arguments,
    describe_machine,
    int_list,
    markdown_table,
    median,
    print_machine,
    run_phase,
    scratch_database,
    site_skus,
    spread,
    work_directory,
    write_json,
    write_site,
)
from benchmarks.loadgen import LoadGenerator

SITE_ID = "bench"
ORDERS_PATH = "/api/v1/orders"
MAX_LINES = 3
MAX_QTY = 3
WARMUP_CLIENTS = 8
CEILING_CLIENTS = 8
SHIP_TO = {
    "name": "Bench Customer",
    "line1": "1 Load Street",
    "city": "Testville",
    "postal_code": "12345",
    "country": "DE",
}


def make_orders(
    rng: random.Random, tag: str, count: int, skus: list[str], carriers: list[str]
) -> list[bytes]:
    """`count` unique orders of 1-3 lines of distinct SKUs, 1-3 units each, as JSON bodies."""
    bodies = []
    for i in range(count):
        lines = [
            {"line_id": str(10 * (j + 1)), "sku": sku, "qty": rng.randint(1, MAX_QTY)}
            for j, sku in enumerate(rng.sample(skus, rng.randint(1, MAX_LINES)))
        ]
        order = {
            "order_id": f"BENCH-{tag}-{i:06d}",
            "priority": rng.randint(0, 9),
            "ship_to": SHIP_TO,
            "carrier": rng.choice(carriers),
            "lines": lines,
        }
        bodies.append(json.dumps(order, separators=(",", ":")).encode())
    return bodies


def write_intake_site(path: Path, units_per_bin: int) -> Path:
    """The demo site as `bench`, every bin holding `units_per_bin` (enough for the run)."""

    def raise_stock(raw_site: dict[str, Any]) -> None:
        for sku in raw_site["skus"]:
            for b in sku["bins"]:
                b["qty"] = units_per_bin

    return write_site(path, SITE_ID, raise_stock)


def run_database(
    db: str, args: argparse.Namespace, load: LoadGenerator, workdir: Path
) -> dict[str, Any]:
    print(f"\n== {db}", flush=True)
    raw_rates = raw.measure(
        db,
        connections=[1, 8],
        updates=args.raw_updates,
        repeat=args.repeat,
        workdir=workdir,
        pg_admin_dsn=args.pg_admin_dsn,
    )
    limit_connections, limit = raw.best(raw_rates)
    total_orders = args.warmup + args.repeat * len(args.clients) * args.orders
    # Every bin alone could serve every unit of the run: stock never runs out.
    site = write_intake_site(workdir / f"intake-{db}.yaml", total_orders * MAX_LINES * MAX_QTY)
    skus, carriers = site_skus(site)
    phases: list[dict[str, Any]] = []
    with (
        scratch_database(db, workdir, "intake", args.pg_admin_dsn) as url,
        ApiServer(
            database_url=url,
            site_config=site,
            workers=args.api_workers,
            log=workdir / f"api-intake-{db}.log",
        ) as api,
    ):
        pg_cpu = PgBackendCpu(url) if db == "postgres" else None

        def phase(label: str, **kwargs: Any) -> Figures:
            figures = run_phase(load, api, pg_cpu, **kwargs)
            print(f"{db} {label}: {figures.line()}", flush=True)
            return figures

        if args.warmup:
            warm = make_orders(
                random.Random(f"{args.seed}:warmup"), "W", args.warmup, skus, carriers
            )
            phase("warm-up", path=ORDERS_PATH, clients=WARMUP_CLIENTS, bodies=warm)
        ceiling = None
        if args.ceiling_requests:
            ceiling = phase(
                "GET /healthz ceiling",
                path="/healthz",
                clients=CEILING_CLIENTS,
                count=args.ceiling_requests,
                ok_status="200",
            )
        for rep in range(1, args.repeat + 1):
            for clients in args.clients:
                tag = f"R{rep}C{clients}"
                rng = random.Random(f"{args.seed}:{rep}:{clients}")
                bodies = make_orders(rng, tag, args.orders, skus, carriers)
                figures = phase(
                    f"clients={clients} rep {rep}/{args.repeat}",
                    path=ORDERS_PATH,
                    clients=clients,
                    bodies=bodies,
                    parse_orders=True,
                )
                not_reserved = {s: n for s, n in figures.order_statuses.items() if s != "reserved"}
                if not_reserved:
                    print(f"    orders not reserved (stock ran out?): {not_reserved}", flush=True)
                phases.append(
                    {"clients": clients, "rep": rep, "not_reserved": not_reserved}
                    | figures.as_dict()
                )
    return {
        "raw": {str(c): r for c, r in raw_rates.items()},
        "limit": {"connections": limit_connections, "updates_per_s": limit},
        "ceiling": ceiling.as_dict() if ceiling else None,
        "phases": phases,
    }


def summary_rows(db: str, result: dict[str, Any], clients: list[int]) -> list[list[object]]:
    limit = result["limit"]["updates_per_s"]
    rows: list[list[object]] = []
    for c in clients:
        runs = [p for p in result["phases"] if p["clients"] == c]
        rates = [p["rate"] for p in runs]
        errors: dict[str, int] = {}
        for p in runs:
            for status, n in {**p["errors"], **p["not_reserved"]}.items():
                errors[status] = errors.get(status, 0) + n
        db_cpu = [p["db_cpu_ms"] for p in runs if p["db_cpu_ms"] is not None]
        rows.append(
            [
                db,
                c,
                spread(rates),
                f"{median([p['p50_ms'] for p in runs]):.1f}",
                f"{median([p['p99_ms'] for p in runs]):.1f}",
                ", ".join(f"{k}: {v}" for k, v in errors.items()) or "0",
                f"{median(rates) / limit:.2f}",
                f"{median([p['client_cpu_us'] for p in runs]):.0f}",
                f"{median([p['api_cpu_ms'] for p in runs]):.2f}",
                f"{median(db_cpu):.2f}" if db_cpu else "-",
            ]
        )
    return rows


SUMMARY_HEADER = [
    "db",
    "clients",
    "orders/s median (min-max)",
    "p50 ms",
    "p99 ms",
    "errors",
    "ratio to raw",
    "client CPU µs/order",
    "API CPU ms/order",
    "PG backend CPU ms/order",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.order_intake", description=__doc__.split("\n\n")[0]
    )
    add_common_arguments(parser)
    parser.add_argument("--clients", type=int_list, default=[1, 8, 64], help="e.g. 1,8,64")
    parser.add_argument("--orders", type=int, default=1000, help="orders per phase")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured orders first")
    parser.add_argument(
        "--ceiling-requests", type=int, default=3000, help="GET /healthz requests (0: skip)"
    )
    args = parser.parse_args(argv)
    machine = describe_machine(args.pg_admin_dsn if "postgres" in args.db else None)
    print_machine(machine)
    results: dict[str, Any] = {}
    with work_directory(args.workdir) as workdir, LoadGenerator(args.client_procs) as load:
        for db in args.db:
            results[db] = run_database(db, args, load, workdir)

    print("\nraw conditional update (the limit), median of runs:")
    print(
        raw.table({db: {int(c): r for c, r in res["raw"].items()} for db, res in results.items()})
    )
    print(
        f"\norder intake, {args.orders} orders per run, {args.repeat} runs, "
        f"{args.api_workers} API worker(s), {args.client_procs} load process(es); "
        "ratio = median orders/s ÷ the best raw updates/s of the same database:"
    )
    rows = [row for db, res in results.items() for row in summary_rows(db, res, args.clients)]
    print(markdown_table(SUMMARY_HEADER, rows))
    for db, res in results.items():
        if res["ceiling"]:
            c = res["ceiling"]
            print(
                f"{db}: GET /healthz ceiling {c['rate']:,.0f} req/s at {CEILING_CLIENTS} clients "
                f"(API CPU {c['api_cpu_ms']:.2f} ms/request)"
            )
    write_json(args.json, {"machine": machine, "args": _plain(vars(args)), "results": results})
    failed = any(p["errors"] or p["not_reserved"] for r in results.values() for p in r["phases"])
    if failed:
        print("\nERRORS: some orders were not answered 201 reserved (see above)")
    return 1 if failed else 0


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}


if __name__ == "__main__":
    raise SystemExit(main())
