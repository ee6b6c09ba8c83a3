"""The last-unit race: many clients order one hot SKU, one unit at a time, until long after
its stock is gone. Nothing may be oversold.

The site is the demo copied as `race`, with the hot SKU (SKU-0001) holding a known small
stock over a few bins (by default 200 + 150 + 100 + 50 = 500 units: its own two bins and
the bins of two SKUs dropped from the copy). 64 clients x 1,000 attempts push orders of
one line, qty 1, of that SKU. Oversells are counted two ways:

(a) from the answers: Σ reserved_qty over every 201 answer, against the initial stock;
(b) from the database, by SQL: per bin, Σ open reservations (qty - picked_qty -
    released_qty) against `bins.on_hand`.

Each repetition runs on a fresh database and a fresh API. The raw conditional-update limit
is measured in the same run, for the ratio.

    python -m benchmarks.last_unit_race --db sqlite,postgres --clients 64 --attempts 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks import raw_conditional_update as raw
from benchmarks.common import (
    ApiServer,
    PgBackendCpu,
    add_common_arguments,
    describe_machine,
    int_list,
    markdown_table,
    median,
    print_machine,
    run_phase,
    scratch_database,
    spread,
    work_directory,
    write_json,
    write_site,
)
from benchmarks.loadgen import LoadGenerator

SITE_ID = "race"
HOT_SKU = "SKU-0001"
DONORS = ("SKU-0023", "SKU-0024")  # dropped from the copy; their bins go to the hot SKU
ORDERS_PATH = "/api/v1/orders"
SHIP_TO = {
    "name": "Race Customer",
    "line1": "1 Last Unit Lane",
    "city": "Testville",
    "postal_code": "12345",
    "country": "DE",
}

OPEN_BY_BIN = text(
    """
    SELECT b.bin, b.on_hand,
           COALESCE(SUM(r.qty - r.picked_qty - r.released_qty), 0) AS open_qty
    FROM bins b LEFT JOIN reservations r ON r.bin_id = b.id
    WHERE b.site = :site AND b.sku = :sku
    GROUP BY b.id, b.bin, b.on_hand
    ORDER BY b.bin
    """
)


def write_race_site(path: Path, hot_bins: list[int]) -> Path:
    """The demo site as `race`: the hot SKU in len(hot_bins) bins holding hot_bins units."""

    def concentrate(site: dict[str, Any]) -> None:
        by_sku = {s["sku"]: s for s in site["skus"]}
        spare = [b for donor in DONORS for b in by_sku[donor]["bins"]]
        bins = [*by_sku[HOT_SKU]["bins"], *spare]
        if len(hot_bins) > len(bins):
            raise SystemExit(f"--hot-bins: at most {len(bins)} bins")
        by_sku[HOT_SKU]["bins"] = [{**b, "qty": q} for b, q in zip(bins, hot_bins, strict=False)]
        site["skus"] = [s for s in site["skus"] if s["sku"] not in DONORS]

    return write_site(path, SITE_ID, concentrate)


def make_attempts(tag: str, count: int) -> list[bytes]:
    return [
        json.dumps(
            {
                "order_id": f"RACE-{tag}-{i:06d}",
                "ship_to": SHIP_TO,
                "lines": [{"line_id": "10", "sku": HOT_SKU, "qty": 1}],
            },
            separators=(",", ":"),
        ).encode()
        for i in range(count)
    ]


async def open_reservations(database_url: str) -> list[dict[str, Any]]:
    """(b): per bin of the hot SKU, on hand and Σ open reservations, read by SQL."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(OPEN_BY_BIN, {"site": SITE_ID, "sku": HOT_SKU})).all()
    finally:
        await engine.dispose()
    return [{"bin": r.bin, "on_hand": r.on_hand, "open_qty": int(r.open_qty)} for r in rows]


def run_once(
    db: str, rep: int, args: argparse.Namespace, load: LoadGenerator, workdir: Path
) -> dict[str, Any]:
    stock = sum(args.hot_bins)
    site = write_race_site(workdir / f"race-{db}.yaml", args.hot_bins)
    attempts = make_attempts(f"R{rep}", args.clients * args.attempts)
    with scratch_database(db, workdir, "race", args.pg_admin_dsn) as url:
        with ApiServer(
            database_url=url,
            site_config=site,
            workers=args.api_workers,
            log=workdir / f"api-race-{db}.log",
        ) as api:
            figures = run_phase(
                load,
                api,
                PgBackendCpu(url) if db == "postgres" else None,
                path=ORDERS_PATH,
                clients=args.clients,
                bodies=attempts,
                parse_orders=True,
            )
        # Read after the API has stopped: everything it answered is committed.
        bins = asyncio.run(open_reservations(url))
    reserved = figures.reserved_units
    by_sql = sum(b["open_qty"] for b in bins)
    outcome = {
        "rep": rep,
        "stock": stock,
        "attempts": figures.requests,
        "reserved_units": reserved,
        "reserved_answers": figures.order_statuses.get("reserved", 0),
        "backordered_answers": figures.order_statuses.get("backordered", 0),
        "other_answers": {
            k: v for k, v in figures.order_statuses.items() if k not in ("reserved", "backordered")
        },
        "oversold_by_answers": max(0, reserved - stock),
        "unsold": max(0, stock - reserved),
        "bins": bins,
        "oversold_by_sql": sum(max(0, b["open_qty"] - b["on_hand"]) for b in bins),
        "reserved_by_sql": by_sql,
    } | figures.as_dict()
    print(
        f"{db} rep {rep}/{args.repeat}: {figures.line()}\n"
        f"    stock {stock}, reserved {reserved} units in {outcome['reserved_answers']} answers,"
        f" backordered {outcome['backordered_answers']}, oversold {outcome['oversold_by_answers']}"
        f" by the answers and {outcome['oversold_by_sql']} by SQL"
        f" (SQL sees {by_sql} reserved: {', '.join(_bin_text(b) for b in bins)})",
        flush=True,
    )
    return outcome


def _bin_text(b: dict[str, Any]) -> str:
    return f"{b['bin']} {b['open_qty']}/{b['on_hand']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.last_unit_race", description=__doc__.split("\n\n")[0]
    )
    add_common_arguments(parser)
    parser.set_defaults(repeat=1)  # 64,000 attempts each; the oversell count must be 0 in every
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--attempts", type=int, default=1000, help="attempts per client")
    parser.add_argument(
        "--hot-bins", type=int_list, default=[200, 150, 100, 50], help="units per hot bin"
    )
    args = parser.parse_args(argv)
    machine = describe_machine(args.pg_admin_dsn if "postgres" in args.db else None)
    print_machine(machine)
    results: dict[str, Any] = {}
    with work_directory(args.workdir) as workdir, LoadGenerator(args.client_procs) as load:
        for db in args.db:
            print(f"\n== {db}", flush=True)
            rates = raw.measure(
                db,
                connections=[1, 8],
                updates=args.raw_updates,
                repeat=args.repeat,
                workdir=workdir,
                pg_admin_dsn=args.pg_admin_dsn,
            )
            runs = [run_once(db, rep, args, load, workdir) for rep in range(1, args.repeat + 1)]
            limit_connections, limit = raw.best(rates)
            results[db] = {
                "raw": {str(c): r for c, r in rates.items()},
                "limit": {"connections": limit_connections, "updates_per_s": limit},
                "runs": runs,
            }

    print(
        f"\nlast-unit race: {args.clients} clients × {args.attempts} attempts of 1 unit of "
        f"{HOT_SKU}, stock {sum(args.hot_bins)} in {len(args.hot_bins)} bins, "
        f"{args.api_workers} API worker(s); ratio = attempts/s ÷ the best raw updates/s:"
    )
    rows = []
    for db, res in results.items():
        runs = res["runs"]
        rates = [r["rate"] for r in runs]
        rows.append(
            [
                db,
                sum(r["attempts"] for r in runs),
                spread(rates),
                f"{median([r['p50_ms'] for r in runs]):.1f}",
                f"{median([r['p99_ms'] for r in runs]):.1f}",
                "/".join(str(r["reserved_units"]) for r in runs),
                "/".join(str(r["backordered_answers"]) for r in runs),
                sum(sum(r["errors"].values()) for r in runs),
                sum(r["oversold_by_answers"] for r in runs),
                sum(r["oversold_by_sql"] for r in runs),
                f"{median(rates) / res['limit']['updates_per_s']:.2f}",
            ]
        )
    print(
        markdown_table(
            [
                "db",
                "attempts",
                "attempts/s median (min-max)",
                "p50 ms",
                "p99 ms",
                "reserved units",
                "backordered",
                "errors",
                "oversold (answers)",
                "oversold (SQL)",
                "ratio to raw",
            ],
            rows,
        )
    )
    print("\nraw conditional update (the limit):")
    print(
        raw.table({db: {int(c): r for c, r in res["raw"].items()} for db, res in results.items()})
    )
    write_json(args.json, {"machine": machine, "results": results})
    oversold = any(
        r["oversold_by_answers"] or r["oversold_by_sql"]
        for res in results.values()
        for r in res["runs"]
    )
    errors = any(r["errors"] or r["other_answers"] for res in results.values() for r in res["runs"])
    if oversold:
        print("\nOVERSOLD: the race sold more than the stock (see above)")
    if errors:
        print("\nERRORS: some attempts were not answered 201 reserved/backordered (see above)")
    return 1 if oversold or errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
