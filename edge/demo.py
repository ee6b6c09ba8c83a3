"""`warehouse demo`: a whole simulated site on a laptop, from one command.

Starts a broker (Mosquitto if installed, else an embedded Python one), then the central
API, the edge controller and every device simulator as separate processes (one process
group), pushes N orders as the ERP, shows their progress and prints a summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from edge.broker import embedded_broker, free_port, wait_for_port

FINAL_STATUSES = frozenset({"shipped", "exception", "cancelled"})
PROGRESS_ORDER = (
    "reserved",
    "partially_reserved",
    "backordered",
    "picking",
    "picked",
    "packed",
    "sorted",
    "shipped",
    "exception",
)
STOP_GRACE_S = 10.0


@dataclass(frozen=True)
class DemoOptions:
    orders: int
    speedup: float
    seed: int
    site_config: Path
    broker: str
    timeout_s: float


@dataclass
class Child:
    name: str
    proc: asyncio.subprocess.Process
    log: Path


class Demo:
    def __init__(self, options: DemoOptions, workdir: Path) -> None:
        self.options = options
        self.workdir = workdir
        self.children: list[Child] = []
        self.erp_key = secrets.token_urlsafe(16)
        self.edge_key = secrets.token_urlsafe(16)
        self.api_port = free_port()
        self.metrics_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"

    async def spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "edge.cli",
                *args,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, **env},
            )
        self.children.append(Child(name, proc, log))

    async def start(self, broker_port: int) -> None:
        site_config = str(self.options.site_config.resolve())
        await self.spawn(
            "api",
            ["--log-level", "warning", "api", "--port", str(self.api_port)],
            {
                "WH_DATABASE_URL": f"sqlite+aiosqlite:///{self.workdir / 'central.db'}",
                "WH_SITE_CONFIGS": json.dumps([site_config]),
                "WH_API_KEYS": json.dumps({self.erp_key: ["erp", "ops"], self.edge_key: ["edge"]}),
            },
        )
        await wait_for_port(self.api_port, timeout_s=60)
        await self.spawn(
            "edge",
            ["edge"],
            {
                "WH_SITE_CONFIG": site_config,
                "WH_MQTT__PORT": str(broker_port),
                "WH_CENTRAL__URL": self.api_url,
                "WH_CENTRAL__API_KEY": self.edge_key,
                "WH_DB_PATH": str(self.workdir / "edge.db"),
                "WH_METRICS_PORT": str(self.metrics_port),
            },
        )
        await self.spawn(
            "devices",
            [
                "sim",
                "site",
                "--site-config",
                site_config,
                "--mqtt-port",
                str(broker_port),
                "--speedup",
                str(self.options.speedup),
                "--seed",
                str(self.options.seed),
            ],
            {},
        )
        await wait_for_port(self.metrics_port, timeout_s=60)

    def check_children(self) -> None:
        for child in self.children:
            if child.proc.returncode is not None:
                raise RuntimeError(
                    f"the {child.name} process exited with {child.proc.returncode}; see {child.log}"
                )

    async def stop(self) -> None:
        for child in self.children:
            if child.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):  # it may have just exited
                    child.proc.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            try:
                await asyncio.wait_for(child.proc.wait(), STOP_GRACE_S)
            except TimeoutError:
                child.proc.kill()
                await child.proc.wait()

    async def edge_metrics(self) -> dict[str, Counter[str]]:
        """Edge counters summed over their labels, and by label."""
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{self.metrics_port}/metrics")).text
        totals: dict[str, Counter[str]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    by_label = totals.setdefault(sample.name, Counter())
                    label = ",".join(str(v) for v in sample.labels.values())
                    by_label[label] += int(sample.value)
        return totals


def _progress_line(statuses: Counter[str], total: int, elapsed: float) -> str:
    parts = [f"{statuses[s]} {s}" for s in PROGRESS_ORDER if statuses[s]]
    return f"[{elapsed:5.1f} s] {total} orders: " + ", ".join(parts)


async def _watch(
    demo: Demo, order_ids: list[str], started: float, interrupted: asyncio.Event
) -> Counter[str]:
    headers = {"Authorization": f"Bearer {demo.erp_key}"}
    tty = sys.stdout.isatty()
    last_line, last_print = "", 0.0
    statuses: Counter[str] = Counter()
    async with httpx.AsyncClient(base_url=demo.api_url, headers=headers, timeout=10) as http:
        while not interrupted.is_set():
            demo.check_children()
            answers = await asyncio.gather(
                *(http.get(f"/api/v1/orders/{order_id}") for order_id in order_ids)
            )
            statuses = Counter(a.json()["status"] for a in answers)
            elapsed = time.monotonic() - started
            line = _progress_line(statuses, len(order_ids), elapsed)
            if tty:
                print("\r" + line.ljust(100), end="", flush=True)
            elif line.split("] ")[1] != last_line.split("] ")[-1] or elapsed - last_print > 10:
                print(line, flush=True)
                last_print = elapsed
            last_line = line
            if sum(statuses[s] for s in FINAL_STATUSES) == len(order_ids):
                break
            if elapsed > demo.options.timeout_s:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(interrupted.wait(), timeout=0.5)
    if tty:
        print()
    return statuses


async def _totes_home(demo: Demo, started: float, interrupted: asyncio.Event) -> None:
    """Once the orders are done, wait (within the timeout) for the AGVs to bring every
    fetched tote home: the site is at rest, and the summary counts every trip."""
    print("bringing the totes home...", flush=True)
    while not interrupted.is_set() and time.monotonic() - started < demo.options.timeout_s:
        trips = (await demo.edge_metrics()).get("warehouse_edge_agv_trips_total", Counter())
        if trips["return"] >= trips["fetch"] + trips["put_back"]:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(interrupted.wait(), timeout=0.5)


def _summary(
    statuses: Counter[str],
    total: int,
    elapsed: float,
    metrics: dict[str, Counter[str]],
    broker: str,
) -> str:
    def metric(name: str) -> int:
        return sum(metrics.get(f"warehouse_edge_{name}_total", Counter()).values())

    exceptions = metrics.get("warehouse_edge_exceptions_total", Counter())
    rows = [
        ("orders shipped", f"{statuses['shipped']} / {total}"),
        ("elapsed", f"{elapsed:.1f} s"),
        ("AGV trips", str(metric("agv_trips"))),
        ("parcels sorted", str(metric("parcels_sorted"))),
        ("parcels shipped", str(metric("parcels_shipped"))),
        (
            "exceptions",
            str(sum(exceptions.values()))
            + (
                f" ({', '.join(f'{k}: {v}' for k, v in exceptions.items() if v)})"
                if exceptions
                else ""
            ),
        ),
        ("broker", broker),
    ]
    width = max(len(k) for k, _ in rows)
    line = "+" + "-" * (width + 2) + "+" + "-" * 32 + "+"
    body = [f"| {k.ljust(width)} | {v.ljust(30)} |" for k, v in rows]
    return "\n".join([line, *body, line])


async def _run(options: DemoOptions, workdir: Path) -> int:
    from simulators.erp import push_orders

    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted.set)
    broker_port = free_port()
    demo = Demo(options, workdir)
    print(
        f"warehouse demo: {options.orders} orders, speed-up {options.speedup:g}x, logs in {workdir}"
    )
    async with embedded_broker(broker_port, workdir, options.broker) as broker:
        print(f"broker: {broker} on 127.0.0.1:{broker_port}")
        try:
            await demo.start(broker_port)
            started = time.monotonic()
            order_ids = await push_orders(
                api_url=demo.api_url,
                api_key=demo.erp_key,
                site_config=options.site_config,
                count=options.orders,
                seed=options.seed,
            )
            print(f"pushed {len(order_ids)} orders to the central API at {demo.api_url}")
            statuses = await _watch(demo, order_ids, started, interrupted)
            elapsed = time.monotonic() - started
            await _totes_home(demo, started, interrupted)
            if interrupted.is_set():
                print("interrupted: stopping every part")
                return 130
            print(_summary(statuses, len(order_ids), elapsed, await demo.edge_metrics(), broker))
            return 0 if statuses["shipped"] == len(order_ids) else 1
        finally:
            await demo.stop()


def run_demo(options: DemoOptions) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="warehouse-demo-"))
    try:
        return asyncio.run(_run(options, workdir))
    except RuntimeError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
