"""The AGV's [AGV] checklist items about the wire, against the real broker: last will,
ONLINE/OFFLINE, DISCONNECT, keepalive, the retained factsheet; and the injected faults as
the master control sees them. The device talks to the broker through a relay that records
its bytes (tests/simulators/mqtt_wire.py), for what the broker cannot show. Every message the
device publishes in these tests is validated against the 2.1.0 schemas."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from simulators.agv.device import AgvDevice
from simulators.common.clock import SimClock
from simulators.common.config import AgvConfig, SiteConfig, SiteMap
from simulators.common.mqtt import Incoming, Link, connect
from simulators.common.world import World
from tests.conftest import Broker
from tests.simulators.mqtt_wire import (
    DISCONNECT,
    PUBLISH,
    RecordingRelay,
    Session,
    parse_connect,
    parse_publish,
    recording_relay,
)
from tests.simulators.sim_testing import action, assert_valid, instant, order

pytestmark = pytest.mark.mqtt

DEADLINE_S = 10.0
SPEEDUP = 10.0
AGV_TOPICS = ("state", "connection", "factsheet")  # what the vehicle publishes


@dataclass
class AgvOnBroker:
    device: AgvDevice
    base: str
    mc: Link  # the master control's side
    relay: RecordingRelay
    stop: asyncio.Event
    run: asyncio.Task[None]
    seen: asyncio.Queue[Incoming] = field(default_factory=asyncio.Queue)
    received: list[Incoming] = field(default_factory=list)  # all, for the final validation

    async def expect(
        self, leaf: str, wanted: Callable[[dict[str, Any]], bool] = lambda p: True
    ) -> dict[str, Any]:
        """The next message on `base/leaf` that `wanted` accepts (earlier ones are skipped)."""
        async with asyncio.timeout(DEADLINE_S):
            while True:
                message = await self.seen.get()
                if message.topic == f"{self.base}/{leaf}" and message.payload:
                    payload: dict[str, Any] = json.loads(message.payload)
                    assert_valid(leaf, payload)
                    if wanted(payload):
                        return payload

    async def send(self, leaf: str, message: dict[str, Any]) -> None:
        await self.mc.publish(f"{self.base}/{leaf}", json.dumps(message), qos=0)

    async def stop_device(self) -> None:
        self.stop.set()
        async with asyncio.timeout(DEADLINE_S):
            await self.run

    def publishes(self, session: Session) -> list[Any]:
        return [parse_publish(p) for p in session.packets() if p.kind == PUBLISH]


async def _collect(agv: AgvOnBroker) -> None:
    async for message in agv.mc.messages():
        agv.received.append(message)
        agv.seen.put_nowait(message)


async def until(condition: Callable[[], bool]) -> None:
    """Poll a condition with a deadline (for what no message announces)."""
    async with asyncio.timeout(DEADLINE_S):
        while not condition():  # noqa: ASYNC110 - nothing to await: the relay's socket closing
            await asyncio.sleep(0.01)


async def retained(broker: Broker, topic: str) -> tuple[bool, dict[str, Any]]:
    """What a client subscribing now gets first on `topic`: (retain flag, payload)."""
    async with connect(
        host=broker.host, port=broker.port, client_id=f"late-{uuid.uuid4().hex[:8]}"
    ) as late:
        await late.subscribe(topic, qos=1)
        async with asyncio.timeout(DEADLINE_S):
            async for message in late.messages():
                return message.retain, json.loads(message.payload)
    raise AssertionError(f"nothing retained on {topic}")


@pytest.fixture
async def agv(
    mqtt_broker: Broker, demo_site: SiteConfig, world: World
) -> AsyncIterator[AgvOnBroker]:
    manufacturer = f"wire{uuid.uuid4().hex[:8]}"
    base = f"uagv/v2/{manufacturer}/AGV-01"
    host, port = mqtt_broker.host, mqtt_broker.port
    device = AgvDevice(
        config=AgvConfig(serial_number="AGV-01", manufacturer=manufacturer, start_node="F06"),
        site_map=SiteMap(demo_site),
        world=world,
        clock=SimClock(SPEEDUP),
        host="127.0.0.1",
        port=0,  # set to the relay's below
        rng=random.Random(5),
    )
    async with (
        recording_relay(host, port) as relay,
        connect(host=host, port=port, client_id=f"{manufacturer}-mc") as mc,
    ):
        device.port = relay.port
        await mc.subscribe(f"{base}/#", qos=1)
        stop = asyncio.Event()
        run = asyncio.create_task(device.run(stop))  # messages queue up in `mc` meanwhile
        on_broker = AgvOnBroker(device, base, mc, relay, stop, run)
        collector = asyncio.create_task(_collect(on_broker))
        try:
            async with asyncio.timeout(DEADLINE_S):  # subscribed: orders reach it from now on
                await device.connected.wait()
            yield on_broker
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(on_broker.run, return_exceptions=True), 10)
            collector.cancel()
            await asyncio.gather(collector, return_exceptions=True)
            for leaf in ("connection", "factsheet"):  # leave nothing retained behind
                await mc.publish(f"{base}/{leaf}", b"", qos=1, retain=True)
    for message in on_broker.received:  # everything the vehicle published, seen or not
        leaf = message.topic.rsplit("/", 1)[1]
        if leaf in AGV_TOPICS and message.payload:
            assert_valid(leaf, json.loads(message.payload))


def is_online(payload: dict[str, Any]) -> bool:
    return payload["connectionState"] == "ONLINE"


# ---- H. connection ------------------------------------------------------------------------


async def test_agv_67_connects_with_a_retained_qos1_connectionbroken_will_then_says_online(
    agv: AgvOnBroker, mqtt_broker: Broker
):
    await agv.expect("connection", is_online)
    [session] = agv.relay.sessions
    hello = parse_connect(session.packets()[0])
    assert hello.will_topic == f"{agv.base}/connection"
    assert (hello.will_qos, hello.will_retain) == (1, True)
    assert hello.will_payload is not None
    will = json.loads(hello.will_payload)
    assert_valid("connection", will)
    assert will["connectionState"] == "CONNECTIONBROKEN"

    first = agv.publishes(session)[0]  # before anything else: ONLINE
    assert first.topic == f"{agv.base}/connection"
    assert json.loads(first.payload)["connectionState"] == "ONLINE"
    assert (first.qos, first.retain) == (1, True)
    assert await retained(mqtt_broker, f"{agv.base}/connection") == (
        True,
        json.loads(first.payload),
    )


async def test_agv_68_a_clean_stop_publishes_offline_then_disconnects(
    agv: AgvOnBroker, mqtt_broker: Broker
):
    online = await agv.expect("connection", is_online)
    await agv.stop_device()
    offline = await agv.expect("connection", lambda p: p["connectionState"] == "OFFLINE")
    assert offline["headerId"] > online["headerId"]
    [session] = agv.relay.sessions
    await until(lambda: session.ended)
    packets = session.packets()
    assert packets[-1].kind == DISCONNECT  # the last thing it sent
    last = agv.publishes(session)[-1]
    assert (last.topic, last.qos, last.retain) == (f"{agv.base}/connection", 1, True)
    assert json.loads(last.payload)["connectionState"] == "OFFLINE"
    # DISCONNECT made the broker drop the will: OFFLINE stays, no CONNECTIONBROKEN
    assert await retained(mqtt_broker, f"{agv.base}/connection") == (True, offline)


async def test_agv_69_keepalive_on_the_wire_is_15_s_also_after_a_reconnect(agv: AgvOnBroker):
    await agv.expect("connection", is_online)
    agv.device.drop_connection(down_for_s=0.0)
    await agv.expect("connection", lambda p: p["connectionState"] == "CONNECTIONBROKEN")
    await agv.expect("connection", is_online)
    assert [parse_connect(s.packets()[0]).keepalive for s in agv.relay.sessions] == [15, 15]


# ---- I. factsheet -------------------------------------------------------------------------


async def test_agv_72_factsheet_is_retained_and_published_again_on_factsheet_request(
    agv: AgvOnBroker, mqtt_broker: Broker
):
    first = await agv.expect("factsheet")
    retain, kept = await retained(mqtt_broker, f"{agv.base}/factsheet")
    assert (retain, kept) == (True, first)
    await agv.send("instantActions", instant(("f-1", "factsheetRequest")))
    again = await agv.expect("factsheet", lambda p: p["headerId"] > first["headerId"])
    assert again["protocolFeatures"] == first["protocolFeatures"]
    [session] = agv.relay.sessions
    factsheets = [p for p in agv.publishes(session) if p.topic.endswith("/factsheet")]
    assert len(factsheets) == 2
    assert all(p.retain for p in factsheets)
    done = await agv.expect(
        "state", lambda p: any(a["actionId"] == "f-1" for a in p["actionStates"])
    )
    assert done["actionStates"][-1]["actionStatus"] == "FINISHED"


async def test_agv_46_state_request_is_answered_with_a_state_on_the_wire(agv: AgvOnBroker):
    await agv.expect("state")
    await agv.send("instantActions", instant(("s-1", "stateRequest")))
    answer = await agv.expect(
        "state", lambda p: any(a["actionId"] == "s-1" for a in p["actionStates"])
    )
    assert answer["actionStates"] == [
        {"actionId": "s-1", "actionType": "stateRequest", "actionStatus": "FINISHED"}
    ]


# ---- injected faults, as the master control sees them ------------------------------------


def long_order(**kwargs: Any) -> dict[str, Any]:
    """F06 → A1-01 → A1-02 → A1-03: 12 m, 8 sim s (0.8 s wall) at full speed."""
    return order(["F06", "A1-01", "A1-02", "A1-03"], **kwargs)


async def test_fault_connection_loss_brings_the_will_then_online_and_the_agv_drove_on(
    agv: AgvOnBroker, mqtt_broker: Broker
):
    online = await agv.expect("connection", is_online)
    await agv.send("order", long_order())
    await agv.expect("state", lambda p: p["orderId"] == "o-1" and p["driving"])
    agv.device.drop_connection(down_for_s=1.5)  # 15 sim s: the order ends meanwhile
    broken = await agv.expect("connection", lambda p: p["connectionState"] == "CONNECTIONBROKEN")
    assert broken["headerId"] < online["headerId"]  # set at CONNECT: stale by design (71)
    back = await agv.expect("connection", is_online)
    assert back["headerId"] > online["headerId"]
    first_state_back = await agv.expect("state")
    # it kept driving its released base while disconnected (VDA 5050 §6.14)
    assert (first_state_back["lastNodeId"], first_state_back["nodeStates"]) == ("A1-03", [])
    first, _ = agv.relay.sessions
    assert first.ended
    assert DISCONNECT not in [p.kind for p in first.packets()]  # dropped, not closed
    assert agv.device.connections == 2
    assert await retained(mqtt_broker, f"{agv.base}/connection") == (True, back)


async def test_fault_fatal_error_mid_task_stops_the_agv_and_shows_in_its_state(
    agv: AgvOnBroker,
):
    await agv.send("order", long_order(actions={3: [action("pick-1", "pick", "TOTE-0005")]}))
    await agv.expect("state", lambda p: p["orderId"] == "o-1" and p["driving"])
    agv.device.inject_fatal_error()
    st = await agv.expect("state", lambda p: bool(p["errors"]))
    [error] = st["errors"]
    assert error["errorLevel"] == "FATAL"
    assert {"referenceKey": "orderId", "referenceValue": "o-1"} in error["errorReferences"]
    assert (st["driving"], st["nodeStates"], st["edgeStates"]) == (False, [], [])
    assert [(a["actionId"], a["actionStatus"]) for a in st["actionStates"]] == [
        ("pick-1", "FAILED")
    ]
    await agv.send("order", order([st["lastNodeId"]], order_id="o-2"))
    refused = await agv.expect("state", lambda p: len(p["errors"]) == 2)
    assert refused["errors"][1]["errorType"] == "orderError"
    assert refused["orderId"] == "o-1"


async def test_fault_slow_driving_shows_in_the_published_velocity(agv: AgvOnBroker):
    await agv.send("order", long_order())
    fast = await agv.expect("state", lambda p: p["orderId"] == "o-1" and p["driving"])
    assert fast["velocity"]["vx"] == 1.5
    agv.device.set_speed_factor(0.25)
    slow = await agv.expect("state", lambda p: p["velocity"]["vx"] == 0.375)
    assert slow["driving"] is True


async def test_fault_refusal_shows_as_an_order_error_and_the_resend_is_taken(agv: AgvOnBroker):
    await agv.expect("state")
    agv.device.refuse_next_orders()
    await agv.send("order", long_order(header_id=1))
    refused = await agv.expect("state", lambda p: bool(p["errors"]))
    [error] = refused["errors"]
    assert (error["errorType"], error["errorLevel"]) == ("orderError", "WARNING")
    assert refused["orderId"] == ""
    await agv.send("order", long_order(header_id=2))
    taken = await agv.expect("state", lambda p: p["orderId"] == "o-1")
    assert taken["errors"] == []
