"""A whole site in one process on the real broker, for tests that reach into its parts.

The central API app (SQLite, lifespan started), the real edge (`bootstrap` + `run`, its
central calls going through `httpx.ASGITransport` to that app) and the simulated devices
(`SimSite`) share one event loop, so a test can inject a fault into one AGV at the moment
it chooses while orders go in through the API as an ERP pushes them. Every message on the
site's AGV topics, and every station command, is recorded from the broker as evidence of
what was sent; the edge reaches the broker through a recording relay, so its MQTT packets
(QoS, retain, subscriptions) are evidence too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest
from fastapi import FastAPI

from api.main import create_app
from controller.domain.tasks import TaskKind, TransportTask
from edge.central import CentralApi
from edge.metrics import CONTROLLER_COUNTERS
from edge.mqtt.topics import controller_status
from edge.runtime import EdgeRuntime
from edge.settings import CentralSettings
from simulators.common.config import load_site
from simulators.site import SimSite
from tests.api.conftest import EDGE_KEY, ERP, OPS, order_body, running, settings_for, sqlite_url
from tests.api.invariants import stock_invariant_violations
from tests.conftest import Broker, write_site_config
from tests.edge.conftest import edge_settings, forget_session, running_edge, until
from tests.simulators.mqtt_wire import (
    PUBLISH,
    Packet,
    Publish,
    RecordingRelay,
    parse_publish,
    recording_relay,
)
from tests.vda5050_schemas import problems

WORK_POLL_S = 0.05  # the edge asks for work often, so a push reaches the floor at once
FLEET_INTERVAL_S = 0.2  # fleet snapshots often enough to catch a short outage
STOP_DEADLINE_S = 15.0


@dataclass(frozen=True)
class Message:
    topic: str
    body: dict[str, Any]

    @property
    def leaf(self) -> str:
        return self.topic.rsplit("/", 1)[1]

    @property
    def device(self) -> str:
        """The AGV's serial number, or the station's id."""
        return self.topic.split("/")[3]


@dataclass
class BrokerLog:
    """What went over the broker on the site's AGV topics and to its stations, in arrival
    order: the evidence of what was sent, and how often."""

    messages: list[Message] = field(default_factory=list)

    def of(self, leaf: str, device: str | None = None) -> list[dict[str, Any]]:
        return [
            m.body
            for m in self.messages
            if m.leaf == leaf and (device is None or m.device == device)
        ]

    def order_ids(self, serial: str | None = None) -> list[str]:
        """The distinct VDA orderIds sent (to one AGV, or to any), first sending first; a
        resend of the same order is not counted again."""
        return list(dict.fromkeys(o["orderId"] for o in self.of("order", serial)))

    def orders_of_task(self, task_id: str) -> list[tuple[str, str]]:
        """(AGV, orderId) of each distinct VDA order sent for a task (`<task>` or
        `<task>.<attempt>`), first sending first."""
        seen: dict[str, str] = {}
        for m in self.messages:
            order_id = m.body.get("orderId", "")
            if m.leaf == "order" and (order_id == task_id or order_id.startswith(task_id + ".")):
                seen.setdefault(order_id, m.device)
        return [(serial, order_id) for order_id, serial in seen.items()]

    def connection_states(self, serial: str) -> list[str]:
        return [m["connectionState"] for m in self.of("connection", serial)]

    def station_commands(self, order_id: str) -> list[str]:
        """The commands the stations were sent about an order, in order."""
        return [c["command"] for c in self.of("commands") if c.get("orderId") == order_id]


@dataclass
class InProcessSite:
    site_id: str
    app: FastAPI
    api: httpx.AsyncClient  # the ERP's and the operator's way in (headers per call)
    runtime: EdgeRuntime
    sim: SimSite
    broker: BrokerLog
    edge_wire: RecordingRelay  # the edge's own MQTT packets, every connection it made

    # --- as the ERP and the operators see it --------------------------------------------

    async def push_order(self, order_id: str, *lines: tuple[str, str, int]) -> dict[str, Any]:
        body = order_body(order_id, *lines, site=self.site_id)
        answer = await self.api.post("/api/v1/orders", json=body, headers=ERP)
        assert answer.status_code == 201, answer.text
        result: dict[str, Any] = answer.json()
        return result

    async def order(self, order_id: str) -> dict[str, Any]:
        answer = await self.api.get(f"/api/v1/orders/{order_id}", headers=ERP)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    async def order_reaching(
        self, order_id: str, statuses: Iterable[str], deadline_s: float
    ) -> dict[str, Any]:
        """The order once its status is one of `statuses`; fails the test at the deadline,
        or at once if the order ends in another final status."""
        wanted = frozenset(statuses)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        while True:
            order = await self.order(order_id)
            if order["status"] in wanted:
                return order
            if order["status"] in {"shipped", "exception", "cancelled"} - wanted:
                pytest.fail(f"order {order_id} ended {order['status']}, not {sorted(wanted)}")
            if loop.time() > deadline:
                pytest.fail(
                    f"order {order_id} is {order['status']} after {deadline_s} s, "
                    f"not {sorted(wanted)}; events: {[e['type'] for e in order['events']]}"
                )
            await asyncio.sleep(0.05)

    async def stock(self, sku: str) -> dict[str, Any]:
        answer = await self.api.get(f"/api/v1/stock/{sku}", headers=ERP)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    async def ledger(self, sku: str) -> list[dict[str, Any]]:
        answer = await self.api.get(
            f"/api/v1/stock/{sku}/ledger",
            params={"site": self.site_id, "limit": 500},
            headers=ERP,
        )
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    async def fleet(self) -> dict[str, dict[str, Any]]:
        """GET /api/v1/sites/{site}/agvs with an ops key, by serial number."""
        answer = await self.api.get(f"/api/v1/sites/{self.site_id}/agvs", headers=OPS)
        assert answer.status_code == 200, answer.text
        return {agv["serial_number"]: agv for agv in answer.json()["agvs"]}

    async def stock_violations(self) -> list[str]:
        async with self.app.state.context.database().reader() as session:
            problems: list[str] = await stock_invariant_violations(session)
            return problems

    def edge_packets(self) -> list[Packet]:
        return [packet for session in self.edge_wire.sessions for packet in session.packets()]

    def edge_publishes(self, *leaves: str) -> list[Publish]:
        """What the edge published on its VDA 5050 topics with these last levels, as sent."""
        sent = [parse_publish(p) for p in self.edge_packets() if p.kind == PUBLISH]
        return [p for p in sent if p.topic.startswith("uagv/") and p.topic.endswith(leaves)]

    def edge_vda_problems(self) -> list[str]:
        """Everything wrong with the orders and instant actions the edge put on the wire:
        not QoS 0, retained, not UTF-8 JSON, or not valid against the 2.1.0 schema plus
        errata (CHECKLIST 1, 4, 6, 16)."""
        found = []
        for sent in self.edge_publishes("/order", "/instantActions"):
            leaf = sent.topic.rsplit("/", 1)[1]
            if (sent.qos, sent.retain) != (0, False):
                found.append(f"{sent.topic}: QoS {sent.qos}, retain {sent.retain}")
            try:
                body = json.loads(sent.payload.decode("utf-8"))
            except ValueError as error:  # UnicodeDecodeError is one
                found.append(f"{sent.topic}: not UTF-8 JSON ({error})")
                continue
            found += [f"{sent.topic} #{body.get('headerId')}: {p}" for p in problems(leaf, body)]
        return found

    # --- inside the edge -------------------------------------------------------------------

    def fetches(self, order_id: str) -> list[TransportTask]:
        """The edge's fetch tasks for an order (none until it has the order)."""
        return [
            t
            for t in self.runtime.controller.tasks.values()
            if t.kind is TaskKind.FETCH and t.order_id == order_id
        ]

    async def the_fetch(self, order_id: str, deadline_s: float = 10.0) -> TransportTask:
        """The one fetch of a one-line order, once the edge has planned it."""
        await until(lambda: bool(self.fetches(order_id)), f"a fetch for {order_id}", deadline_s)
        [task] = self.fetches(order_id)
        return task

    def returns_of(self, tote_id: str) -> list[TransportTask]:
        return [
            t
            for t in self.runtime.controller.tasks.values()
            if t.kind is TaskKind.RETURN and t.tote_id == tote_id
        ]

    def metric(self, name: str, label: str) -> float:
        """A controller counter of the edge (edge/metrics.py), 0 if never counted."""
        label_name = CONTROLLER_COUNTERS[name][1]
        value = self.runtime.metrics.registry.get_sample_value(
            f"warehouse_edge_{name}_total", {label_name: label}
        )
        return value or 0.0

    def metric_total(self, name: str) -> float:
        """A controller counter of the edge summed over its labels."""
        return sum(
            sample.value
            for family in self.runtime.metrics.registry.collect()
            for sample in family.samples
            if sample.name == f"warehouse_edge_{name}_total"
        )


async def _record(
    broker: Broker, topics: list[str], log: BrokerLog, ready: asyncio.Event, client_id: str
) -> None:
    async with aiomqtt.Client(broker.host, broker.port, identifier=client_id) as client:
        for topic in topics:
            await client.subscribe(topic, qos=1)
        ready.set()
        async for message in client.messages:
            if message.payload:  # an empty one clears a retained message
                body = json.loads(message.payload)
                log.messages.append(Message(str(message.topic), body))


async def _clear_retained(broker: Broker, site: SimSite) -> None:
    """Leave no retained message of this site behind (AGVs' connection and factsheet, the
    edge's status), so the broker does not collect one set per test run."""
    topics = [
        f"uagv/v2/{agv.manufacturer}/{agv.serial_number}/{leaf}"
        for agv in site.site.agvs
        for leaf in ("connection", "factsheet")
    ]
    topics.append(controller_status(site.site.site))
    async with aiomqtt.Client(broker.host, broker.port) as client:
        for topic in topics:
            await client.publish(topic, b"", qos=1, retain=True)


@contextlib.asynccontextmanager
async def site_in_process(
    broker: Broker, tmp_path: Path, site_id: str, *, speedup: float, seed: int
) -> AsyncIterator[InProcessSite]:
    """Run the API, the edge and the devices of a fresh copy of the demo site until the
    block ends; every AGV has sent its first state before the block starts."""
    async with (
        recording_relay(broker.host, broker.port) as edge_wire,
        _site_in_process(broker, edge_wire, tmp_path, site_id, speedup=speedup, seed=seed) as site,
    ):
        yield site


@contextlib.asynccontextmanager
async def _site_in_process(
    broker: Broker,
    edge_wire: RecordingRelay,
    tmp_path: Path,
    site_id: str,
    *,
    speedup: float,
    seed: int,
) -> AsyncIterator[InProcessSite]:
    config = write_site_config(tmp_path, site_id)
    sim_config = load_site(config)
    manufacturer = sim_config.agvs[0].manufacturer
    app = create_app(settings_for(sqlite_url(tmp_path), sites=[config]))
    settings = edge_settings(
        Broker("127.0.0.1", edge_wire.port),
        config,
        tmp_path,
        central=CentralSettings(
            url="http://api", poll_interval_s=WORK_POLL_S, fleet_interval_s=FLEET_INTERVAL_S
        ),
    )
    sim = SimSite(
        sim_config, mqtt_host=broker.host, mqtt_port=broker.port, speedup=speedup, seed=seed
    )
    log = BrokerLog()
    recording = asyncio.Event()
    topics = [f"uagv/v2/{manufacturer}/#", f"warehouse/{site_id}/station/+/commands"]
    recorder = asyncio.create_task(_record(broker, topics, log, recording, f"{site_id}-rec"))
    stop_devices = asyncio.Event()
    devices: asyncio.Task[None] | None = None
    try:
        await asyncio.wait_for(recording.wait(), STOP_DEADLINE_S)
        async with running(app) as api:

            def central(runtime: EdgeRuntime) -> CentralApi:
                return CentralApi(
                    "http://api", EDGE_KEY, site_id, transport=httpx.ASGITransport(app=app)
                )

            async with running_edge(settings, central) as edge:
                devices = asyncio.create_task(sim.run(stop_devices))
                controller = edge.runtime.controller
                await until(
                    lambda: all(agv.state is not None for agv in controller.agvs.values()),
                    "every AGV's first state",
                )
                try:
                    yield InProcessSite(site_id, app, api, edge.runtime, sim, log, edge_wire)
                finally:
                    stop_devices.set()
                    await asyncio.wait_for(devices, STOP_DEADLINE_S)
    finally:
        stop_devices.set()
        if devices is not None and not devices.done():
            devices.cancel()
            await asyncio.gather(devices, return_exceptions=True)
        await forget_session(broker, settings.mqtt.client_id or f"edge-{site_id}")
        await _clear_retained(broker, sim)
        recorder.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await recorder
