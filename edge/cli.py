"""`warehouse`: the one console script (DESIGN §5.4).

warehouse demo            a whole simulated site: broker, API, edge, every simulator
warehouse api             the central API (settings from WH_* environment variables)
warehouse migrate         upgrade the central database's schema (the API does it at start too)
warehouse edge            the edge controller of one site (settings from WH_*)
warehouse sim site        every device simulator of one site
warehouse sim erp         push random orders to the central API
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from controller.siteconfig import site_config_path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _site_config(value: str) -> Path:
    """A site id of a bundled config (`demo`) or a path to a YAML file."""
    path = Path(value)
    return path if path.suffix in (".yaml", ".yml") or path.exists() else site_config_path(value)


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[object]]) -> None:
    """Run `main(stop)`; SIGINT and SIGTERM set `stop` so that it can shut down cleanly."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())


def _cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from api.main import create_app
    from api.settings import ApiSettings

    app = create_app(ApiSettings())
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    from api.migrate import upgrade
    from api.settings import ApiSettings

    url = args.database_url or ApiSettings().database_url
    print(f"database at {asyncio.run(upgrade(url, args.revision))}")
    return 0


def _cmd_edge(args: argparse.Namespace) -> int:
    from edge.runtime import run_edge
    from edge.settings import EdgeSettings

    settings = EdgeSettings()
    run_until_signalled(lambda stop: run_edge(settings, stop))
    return 0


def _cmd_sim_site(args: argparse.Namespace) -> int:
    from simulators.site import run_site

    run_until_signalled(
        lambda stop: run_site(
            site_config=args.site_config,
            mqtt_host=args.mqtt_host,
            mqtt_port=args.mqtt_port,
            speedup=args.speedup,
            seed=args.seed,
            stop=stop,
        )
    )
    return 0


def _cmd_sim_erp(args: argparse.Namespace) -> int:
    from simulators.erp import push_orders

    ids = asyncio.run(
        push_orders(
            api_url=args.api_url,
            api_key=args.api_key,
            site_config=args.site_config,
            count=args.orders,
            seed=args.seed,
        )
    )
    print("\n".join(ids))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from edge.demo import DemoOptions, run_demo

    options = DemoOptions(
        orders=args.orders,
        speedup=args.speedup,
        seed=args.seed,
        site_config=args.site_config,
        broker=args.broker,
        timeout_s=args.timeout,
    )
    return run_demo(options)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="warehouse", description=__doc__.split("\n\n")[0])
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="run a whole simulated site and ship N orders")
    demo.add_argument("--orders", type=int, default=20, help="orders to push (default 20)")
    demo.add_argument(
        "--speedup", type=float, default=10.0, help="simulated seconds per second (default 10)"
    )
    demo.add_argument("--seed", type=int, default=1, help="random seed of the simulation")
    demo.add_argument("--site-config", type=_site_config, default=site_config_path("demo"))
    demo.add_argument(
        "--broker",
        choices=("auto", "embedded", "mosquitto"),
        default="auto",
        help="auto: Mosquitto when installed, else the embedded Python broker",
    )
    demo.add_argument("--timeout", type=float, default=600.0, help="give up after (s)")
    demo.set_defaults(func=_cmd_demo)

    api = sub.add_parser("api", help="run the central API (settings from WH_* variables)")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.set_defaults(func=_cmd_api)

    migrate = sub.add_parser(
        "migrate",
        help="upgrade the central database's schema (WH_DATABASE_URL)",
        description="Upgrade the central database to a revision (default: the newest), "
        "holding the same lock as a starting API. To write a revision or to downgrade, "
        "use `alembic` (api/migrations/README.md).",
    )
    migrate.add_argument(
        "--database-url", help="SQLAlchemy URL (default: WH_DATABASE_URL, as the API reads it)"
    )
    migrate.add_argument("--revision", default="head", help="target revision (default head)")
    migrate.set_defaults(func=_cmd_migrate)

    edge = sub.add_parser("edge", help="run the edge controller (settings from WH_* variables)")
    edge.set_defaults(func=_cmd_edge)

    sim = sub.add_parser("sim", help="run simulators")
    sim_sub = sim.add_subparsers(dest="sim", required=True, metavar="SIMULATOR")
    site = sim_sub.add_parser("site", help="every device of a site (AGVs, stations, sorter, doors)")
    site.add_argument("--site-config", type=_site_config, default=site_config_path("demo"))
    site.add_argument("--mqtt-host", default="127.0.0.1")
    site.add_argument("--mqtt-port", type=int, default=1883)
    site.add_argument("--speedup", type=float, default=10.0)
    site.add_argument("--seed", type=int, default=1)
    site.set_defaults(func=_cmd_sim_site)
    erp = sim_sub.add_parser("erp", help="push random released orders to the central API")
    erp.add_argument("--api-url", default="http://127.0.0.1:8000")
    erp.add_argument("--api-key", required=True)
    erp.add_argument("--site-config", type=_site_config, default=site_config_path("demo"))
    erp.add_argument("--orders", type=int, default=20)
    erp.add_argument("--seed", type=int, default=1)
    erp.set_defaults(func=_cmd_sim_erp)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format=LOG_FORMAT)
    if args.command == "api":
        args.log_level = args.log_level.lower()
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
