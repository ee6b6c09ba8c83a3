"""A cancel and a put-back through the real broker: the edge with a fake central API, and the
simulated site's devices (AGVs, station operator, gates, sorter, doors) sharing one world.

An order is released; once its line is picked, the central side cancels it; once the edge
reports it cancelled, the central side asks for the picked items to be put back. The station
simulator puts them back into their tote, the edge reports `line.put_back`, and the tote
goes home with every item it started with.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.settings import CentralSettings
from simulators.common.config import load_site
from simulators.common.mqtt import connect
from simulators.site import SimSite
from tests.conftest import Broker
from tests.edge.conftest import edge_settings, fake_central, forget_session, running_edge, until

pytestmark = pytest.mark.mqtt

SPEEDUP = 40.0
SEED = 11
STEP_DEADLINE_S = 60.0  # one AGV round trip and a station job at SPEEDUP take a few seconds
TOTE, BIN, SKU, GTIN = "TOTE-0001", "A1-01", "SKU-0001", "00614141001002"


class CentralSide:
    """The central API as the edge sees it: a work feed the test appends to, and an event
    ingest that records what arrives and may react to it (as the real API would)."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.on_event: Callable[[dict[str, Any]], None] = lambda event: None

    def add(self, type_: str, **body: Any) -> None:
        self.items.append({"seq": len(self.items) + 1, "type": type_, **body})

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            events = json.loads(request.content)["events"]
            for event in events:
                self.events.append(event)
                self.on_event(event)
            results = [{"event_id": e["event_id"], "status": "accepted"} for e in events]
            return httpx.Response(200, json={"results": results})
        after = int(request.url.params["after"])
        items = [item for item in self.items if item["seq"] > after]
        return httpx.Response(200, json={"items": items, "next_after": after + len(items)})


async def test_a_cancelled_orders_picked_items_are_put_back_into_their_tote(
    mqtt_broker: Broker, site_config: Path, tmp_path: Path
) -> None:
    central = CentralSide()
    settings = edge_settings(
        mqtt_broker,
        site_config,
        tmp_path,
        central=CentralSettings(url="http://central.test", poll_interval_s=0.02),
    )
    sim = SimSite(
        load_site(site_config),
        mqtt_host=mqtt_broker.host,
        mqtt_port=mqtt_broker.port,
        speedup=SPEEDUP,
        seed=SEED,
    )
    tote = sim.world.totes[TOTE]
    items_before = list(tote.items)

    def cancel_once_picked(event: dict[str, Any]) -> None:
        if event["type"] == "line.picked":
            central.add("order.cancel", order_id="SO-1")

    central.on_event = cancel_once_picked
    stop = asyncio.Event()
    devices = asyncio.create_task(sim.run(stop))
    try:
        async with running_edge(settings, lambda rt: fake_central(rt, central)) as edge:
            controller = edge.runtime.controller
            await until(
                lambda: all(agv.state is not None for agv in controller.agvs.values()),
                "every AGV's first state",
            )
            line = {"line_id": "10", "sku": SKU, "gtin": GTIN, "qty": 2}
            allocation = {"bin": BIN, "tote_id": TOTE, "qty": 2}
            order = {"order_id": "SO-1", "priority": 5, "carrier": "DHL", "version": 1}
            central.add(
                "order.released", order={**order, "lines": [{**line, "allocations": [allocation]}]}
            )

            await until(
                lambda: bool(central.of_type("order.cancelled")), "order.cancelled", STEP_DEADLINE_S
            )
            [picked] = central.of_type("line.picked")
            assert picked["data"] == {
                "line_id": "10",
                "sku": SKU,
                "bin": BIN,
                "tote_id": TOTE,
                "qty": 2,
            }
            assert len(tote.items) == len(items_before) - 2

            putback_line = {**picked["data"], "gtin": GTIN}
            central.add(
                "putback.requested",
                putback={"putback_id": "PB-1", "order_id": "SO-1", "lines": [putback_line]},
            )
            await until(
                lambda: bool(central.of_type("line.put_back")), "line.put_back", STEP_DEADLINE_S
            )
            await until(lambda: tote.node == BIN, "the tote back in its bin", STEP_DEADLINE_S)

            [put_back] = central.of_type("line.put_back")
            assert put_back["order_id"] == "SO-1"
            assert put_back["data"] == {
                "putback_id": "PB-1",
                "line_id": "10",
                "sku": SKU,
                "bin": BIN,
                "tote_id": TOTE,
                "qty": 2,
            }
            assert sorted(i.epc for i in tote.items) == sorted(i.epc for i in items_before)
            central.add(  # the central side retries its request: nothing happens twice
                "putback.requested",
                putback={"putback_id": "PB-1", "order_id": "SO-1", "lines": [putback_line]},
            )
            await until(
                lambda: repeats(edge.runtime.metrics.registry, "putback.requested") == 1,
                "the repeated request read",
            )
            assert len(central.of_type("line.put_back")) == 1
            assert len(central.of_type("order.cancelled")) == 1
            assert central.of_type("order.exception") == []
    finally:
        stop.set()
        await asyncio.wait_for(devices, STEP_DEADLINE_S)
        await forget_session(mqtt_broker, f"edge-{sim.site.site}")
        await _clear_retained(mqtt_broker, sim)


def repeats(registry: Any, kind: str) -> float:
    value = registry.get_sample_value("warehouse_edge_duplicate_work_total", {"kind": kind})
    return value or 0.0


async def _clear_retained(broker: Broker, sim: SimSite) -> None:
    """Leave no retained AGV messages of this test's site behind."""
    async with connect(
        host=broker.host, port=broker.port, client_id=f"{sim.site.site}-clean"
    ) as link:
        for agv in sim.site.agvs:
            for leaf in ("connection", "factsheet"):
                topic = f"uagv/v2/{agv.manufacturer}/{agv.serial_number}/{leaf}"
                await link.publish(topic, b"", qos=1, retain=True)
