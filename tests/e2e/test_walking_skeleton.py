"""End to end: the real processes (central API, edge controller, device simulators) on the
real broker; orders pushed through the API by the ERP simulator travel to `shipped`.

One run of the site serves every test in this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

from edge.broker import free_port
from simulators.erp import push_orders
from tests.conftest import Broker, write_site_config
from tests.vda5050_schemas import problems

pytestmark = [pytest.mark.mqtt, pytest.mark.e2e]

ORDERS = 8
SPEEDUP = 20.0
SEED = 7
RUN_DEADLINE_S = 240.0
FLEET_DEADLINE_S = 30.0
FINAL = frozenset({"shipped", "exception", "cancelled"})


@dataclass(frozen=True)
class VdaMessage:
    topic: str
    body: dict[str, Any]


@dataclass
class SiteRun:
    orders: dict[str, dict[str, Any]]
    stock_before: dict[str, dict[str, Any]]
    stock_after: dict[str, dict[str, Any]]
    fleet: dict[str, dict[str, Any]]  # GET /api/v1/sites/{site}/agvs, by serial number
    vda_messages: list[VdaMessage] = field(default_factory=list)
    logs: str = ""


async def _wait_http(url: str, deadline_s: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    async with httpx.AsyncClient() as http:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            if loop.time() > end:
                raise TimeoutError(f"{url} did not answer")
            await asyncio.sleep(0.1)


async def _spawn(args: list[str], env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "edge.cli",
            *args,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, **env},
        )


async def _record_vda(
    broker: Broker, manufacturer: str, sink: list[VdaMessage], ready: asyncio.Event
) -> None:
    async with aiomqtt.Client(broker.host, broker.port) as client:
        for leaf in ("order", "instantActions"):
            await client.subscribe(f"uagv/v2/{manufacturer}/+/{leaf}", qos=1)
        ready.set()
        async for message in client.messages:
            body = json.loads(message.payload)  # type: ignore[arg-type]
            sink.append(VdaMessage(str(message.topic), body))


async def _run_site(broker: Broker, workdir: Path) -> SiteRun:
    site_id = f"e2e{uuid.uuid4().hex[:8]}"
    config = write_site_config(workdir, site_id)
    erp_key, edge_key = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    api_port, metrics_port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    procs: list[asyncio.subprocess.Process] = []
    vda: list[VdaMessage] = []
    recording = asyncio.Event()
    recorder = asyncio.create_task(_record_vda(broker, f"sim{site_id}", vda, recording))
    try:
        await asyncio.wait_for(recording.wait(), 10)
        procs.append(
            await _spawn(
                ["api", "--port", str(api_port)],
                {
                    "WH_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'central.db'}",
                    "WH_SITE_CONFIGS": json.dumps([str(config)]),
                    "WH_API_KEYS": json.dumps({erp_key: ["erp", "ops"], edge_key: ["edge"]}),
                },
                workdir / "api.log",
            )
        )
        await _wait_http(f"{api_url}/readyz")
        procs.append(
            await _spawn(
                ["edge"],
                {
                    "WH_SITE_CONFIG": str(config),
                    "WH_MQTT__HOST": broker.host,
                    "WH_MQTT__PORT": str(broker.port),
                    "WH_CENTRAL__URL": api_url,
                    "WH_CENTRAL__API_KEY": edge_key,
                    "WH_DB_PATH": str(workdir / "edge.db"),
                    "WH_METRICS_PORT": str(metrics_port),
                    "WH_CENTRAL__FLEET_INTERVAL_S": "0.5",
                },
                workdir / "edge.log",
            )
        )
        procs.append(
            await _spawn(
                [
                    *("sim", "site", "--site-config", str(config), "--mqtt-host", broker.host),
                    *("--mqtt-port", str(broker.port), "--speedup", str(SPEEDUP)),
                    *("--seed", str(SEED)),
                ],
                {},
                workdir / "devices.log",
            )
        )
        headers = {"Authorization": f"Bearer {erp_key}"}
        async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=10) as http:
            skus = [s["sku"] for s in _site_skus(config)]
            stock_before = {sku: (await http.get(f"/api/v1/stock/{sku}")).json() for sku in skus}
            order_ids = await push_orders(
                api_url=api_url, api_key=erp_key, site_config=config, count=ORDERS, seed=SEED
            )
            orders = await _until_final(http, order_ids, procs)
            stock_after = {sku: (await http.get(f"/api/v1/stock/{sku}")).json() for sku in skus}
            fleet = await _fleet_settled(http, site_id)
        return SiteRun(orders, stock_before, stock_after, fleet, vda)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
        recorder.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await recorder


def _site_skus(config: Path) -> list[dict[str, Any]]:
    import yaml

    return list(yaml.safe_load(config.read_text())["skus"])


async def _until_final(
    http: httpx.AsyncClient, order_ids: list[str], procs: list[asyncio.subprocess.Process]
) -> dict[str, dict[str, Any]]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RUN_DEADLINE_S
    while True:
        answers = await asyncio.gather(*(http.get(f"/api/v1/orders/{o}") for o in order_ids))
        orders = {o: a.json() for o, a in zip(order_ids, answers, strict=True)}
        if all(order["status"] in FINAL for order in orders.values()):
            return orders
        if any(proc.returncode is not None for proc in procs) or loop.time() > deadline:
            return orders
        await asyncio.sleep(0.25)


async def _fleet_settled(http: httpx.AsyncClient, site_id: str) -> dict[str, dict[str, Any]]:
    """The fleet view once every AGV is reported online and at rest (or at the deadline):
    not driving, and nothing left of its order (idle AGVs drive off to park near demand)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FLEET_DEADLINE_S
    while True:
        answer = await http.get(f"/api/v1/sites/{site_id}/agvs")
        answer.raise_for_status()
        fleet = {agv["serial_number"]: agv for agv in answer.json()["agvs"]}
        statuses = [agv["status"] for agv in fleet.values()]
        settled = all(
            s is not None
            and s["connection"] == "ONLINE"
            and not s["driving"]
            and (s["order"] is None or s["order"]["nodes_left"] == 0)
            for s in statuses
        )
        if settled or loop.time() > deadline:
            return fleet
        await asyncio.sleep(0.25)


@pytest.fixture(scope="module")
def site_run(mqtt_broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> SiteRun:
    workdir = tmp_path_factory.mktemp("site")
    run = asyncio.run(_run_site(mqtt_broker, workdir))
    run.logs = "\n".join(
        f"--- {log.name} (last lines)\n" + "\n".join(log.read_text().splitlines()[-25:])
        for log in sorted(workdir.glob("*.log"))
    )
    return run


def test_every_order_reaches_shipped_with_a_parcel_of_its_own(site_run: SiteRun) -> None:
    statuses = Counter(order["status"] for order in site_run.orders.values())
    assert statuses == {"shipped": ORDERS}, f"{statuses}\n{site_run.logs}"
    ssccs = [parcel["sscc"] for order in site_run.orders.values() for parcel in order["parcels"]]
    assert len(ssccs) == ORDERS == len(set(ssccs))
    for order in site_run.orders.values():
        for line in order["lines"]:
            assert line["qty"] == line["picked_qty"] == line["shipped_qty"], order


def test_each_order_moved_through_every_step_in_order(site_run: SiteRun) -> None:
    steps = [
        "order.picking",
        "line.picked",
        "order.picked",
        "order.packed",
        "parcel.sorted",
        "parcel.loaded",
        "parcel.shipped",
    ]
    for order in site_run.orders.values():
        timeline = [e["type"] for e in order["events"] if e["type"] in steps]
        firsts = sorted(set(timeline), key=timeline.index)
        assert firsts == steps, (order["order_id"], timeline)
        assert timeline.count("line.picked") == len(order["lines"]), timeline


def test_stock_left_the_bins_by_exactly_what_was_ordered(site_run: SiteRun) -> None:
    ordered: Counter[str] = Counter()
    for order in site_run.orders.values():
        for line in order["lines"]:
            ordered[line["sku"]] += line["qty"]
    assert sum(ordered.values()) > 0
    for sku, before in site_run.stock_before.items():
        after = site_run.stock_after[sku]
        assert after["on_hand"] == before["on_hand"] - ordered[sku], sku
        assert after["reserved"] == 0, sku
        assert after["available"] == after["on_hand"], sku


def test_every_vda5050_message_the_edge_published_validates_against_the_schema(
    site_run: SiteRun,
) -> None:
    orders = [m for m in site_run.vda_messages if m.topic.endswith("/order")]
    # every pick trip and every return trip was an order
    assert len(orders) >= 2 * sum(len(o["lines"]) for o in site_run.orders.values())
    assert any(m.topic.endswith("/instantActions") for m in site_run.vda_messages)
    failures = {
        f"{m.topic} #{m.body.get('headerId')}": found
        for m in site_run.vda_messages
        if (found := problems(m.topic.rsplit("/", 1)[1], m.body))
    }
    assert failures == {}


def test_the_fleet_view_shows_every_agv_with_its_last_trip(site_run: SiteRun) -> None:
    assert sorted(site_run.fleet) == ["AGV-01", "AGV-02", "AGV-03", "AGV-04"], site_run.logs
    for serial, agv in site_run.fleet.items():
        status = agv["status"]
        assert status is not None, f"{serial} never reported\n{site_run.logs}"
        assert agv["report_stale"] is False
        assert (status["connection"], status["operating_mode"]) == ("ONLINE", "AUTOMATIC")
        assert status["stale"] is False
        assert 0 < status["battery"]["charge"] <= 100
        assert status["position"] is not None
        assert status["last_node_id"]
    trips = [a["status"]["order"] for a in site_run.fleet.values() if a["status"]["order"]]
    assert trips, "no AGV shows the order of a trip it made"
    for order in trips:
        assert (order["nodes_left"], order["edges_left"]) == (0, 0)
        assert order["actions_finished"] == order["actions_total"]
