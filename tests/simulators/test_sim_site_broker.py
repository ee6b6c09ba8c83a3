"""Against the real broker: the site's AGV comes online, takes an order, picks, goes offline."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulators.common.mqtt import Incoming, Link, connect
from simulators.site import run_site
from tests.conftest import DEMO_SITE
from tests.simulators.sim_testing import action, assert_valid, order

pytestmark = pytest.mark.mqtt

DEADLINE_S = 10.0


def site_copy(tmp_path: Path, site_id: str, manufacturer: str) -> Path:
    raw = yaml.safe_load(DEMO_SITE.read_text(encoding="utf-8"))
    raw["site"] = site_id
    raw["agvs"] = [
        {"serial_number": "AGV-01", "manufacturer": manufacturer, "start_node": "F06"},
    ]
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


async def next_message(
    queue: asyncio.Queue[Incoming], wanted: Callable[[Incoming, Any], bool]
) -> tuple[Incoming, Any]:
    async with asyncio.timeout(DEADLINE_S):
        while True:
            message = await queue.get()
            payload = json.loads(message.payload) if message.payload else None
            if wanted(message, payload):
                return message, payload


async def collect(link: Link, queue: asyncio.Queue[Incoming]) -> None:
    async for message in link.messages():
        queue.put_nowait(message)


async def test_agv_comes_online_takes_an_order_reports_the_pick_finished_and_goes_offline(
    mqtt_broker, tmp_path: Path, site_id: str
):
    manufacturer = f"simtest{uuid.uuid4().hex[:8]}"
    base = f"uagv/v2/{manufacturer}/AGV-01"
    config = site_copy(tmp_path, site_id, manufacturer)
    host, port = mqtt_broker.host, mqtt_broker.port
    stop = asyncio.Event()
    seen: asyncio.Queue[Incoming] = asyncio.Queue()
    tasks: list[asyncio.Task[None]] = []
    try:
        async with connect(host=host, port=port, client_id=f"{manufacturer}-mc") as mc:
            await mc.subscribe(f"{base}/#", qos=1)
            tasks.append(asyncio.create_task(collect(mc, seen)))
            site = asyncio.create_task(
                run_site(
                    site_config=config,
                    mqtt_host=host,
                    mqtt_port=port,
                    speedup=20.0,
                    seed=3,
                    stop=stop,
                )
            )
            tasks.append(site)
            _, online = await next_message(
                seen,
                lambda m, p: m.topic == f"{base}/connection" and p["connectionState"] == "ONLINE",
            )
            assert_valid("connection", online)
            _, first = await next_message(seen, lambda m, p: m.topic == f"{base}/state")
            assert_valid("state", first)
            assert (first["lastNodeId"], first["orderId"]) == ("F06", "")

            async with connect(host=host, port=port, client_id=f"{manufacturer}-late") as late:
                await late.subscribe(f"{base}/connection", qos=1)
                await late.subscribe(f"{base}/factsheet", qos=1)
                retained: dict[str, Any] = {}
                async with asyncio.timeout(DEADLINE_S):
                    async for message in late.messages():
                        assert message.retain
                        retained[message.topic.rsplit("/", 1)[1]] = json.loads(message.payload)
                        if len(retained) == 2:
                            break
            assert retained["connection"]["connectionState"] == "ONLINE"
            assert_valid("factsheet", retained["factsheet"])

            message = order(
                ["F06", "A1-01"],
                order_id="t-pick",
                actions={1: [action("pick-1", "pick", "TOTE-0001")]},
            )
            message["manufacturer"] = manufacturer
            await mc.publish(f"{base}/order", json.dumps(message), qos=0)

            def pick_finished(m: Incoming, p: Any) -> bool:
                if m.topic != f"{base}/state":
                    return False
                assert_valid("state", p)
                return any(
                    a["actionId"] == "pick-1" and a["actionStatus"] == "FINISHED"
                    for a in p["actionStates"]
                )

            _, done = await next_message(seen, pick_finished)
            assert (done["orderId"], done["lastNodeId"]) == ("t-pick", "A1-01")
            assert [load["loadId"] for load in done["loads"]] == ["TOTE-0001"]

            stop.set()
            async with asyncio.timeout(DEADLINE_S):
                await site
            _, offline = await next_message(
                seen,
                lambda m, p: m.topic == f"{base}/connection" and p["connectionState"] == "OFFLINE",
            )
            assert offline["headerId"] > online["headerId"]
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        async with connect(host=host, port=port, client_id=f"{manufacturer}-cleanup") as cleanup:
            for topic in ("connection", "factsheet"):  # leave no retained messages behind
                await cleanup.publish(f"{base}/{topic}", b"", qos=1, retain=True)
