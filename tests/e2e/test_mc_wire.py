"""The transport items of the VDA 5050 checklist, read off the edge's own MQTT packets.

A subscriber cannot tell these: the broker delivers at the subscription's QoS and clears
the retain flag on live delivery. So the edge reaches Mosquitto through a recording relay
(tests/simulators/mqtt_wire.py) and each test reads what the edge itself sent, during one
order that ships after a FATAL error on the AGV fetching it (so the run includes the
resend of a failed trip, not only the happy path).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass

import pytest

from tests.conftest import Broker
from tests.e2e.site_in_process import InProcessSite, site_in_process
from tests.e2e.test_agv_faults import (
    PAST_THE_DEAD_ENDS,
    SEED,
    SHIP_DEADLINE_S,
    SKU,
    SPEEDUP,
    driving_to_the_rack,
)
from tests.simulators.mqtt_wire import (
    CONNECT,
    SUBSCRIBE,
    Connect,
    Publish,
    parse_connect,
    parse_subscribe,
)

pytestmark = [pytest.mark.mqtt, pytest.mark.e2e]


@dataclass(frozen=True)
class EdgeWire:
    connects: list[Connect]
    subscriptions: list[tuple[str, int]]
    vda_publishes: list[Publish]  # on uagv/... topics
    problems: list[str]
    order_status: str


async def _run(broker: Broker, tmp_path: pytest.TempPathFactory) -> EdgeWire:
    workdir = tmp_path.mktemp("wire")
    site_id = f"t{uuid.uuid4().hex[:10]}"
    async with site_in_process(broker, workdir, site_id, speedup=SPEEDUP, seed=SEED) as site:
        await site.push_order("SO-WIRE-1", ("10", SKU, 2))
        fetch = await driving_to_the_rack(site, "SO-WIRE-1", past=PAST_THE_DEAD_ENDS)
        site.sim.agvs[fetch.agv or ""].inject_fatal_error()
        order = await site.order_reaching("SO-WIRE-1", {"shipped"}, SHIP_DEADLINE_S)
        return _evidence(site, order["status"])


def _evidence(site: InProcessSite, order_status: str) -> EdgeWire:
    packets = site.edge_packets()
    return EdgeWire(
        connects=[parse_connect(p) for p in packets if p.kind == CONNECT],
        subscriptions=[s for p in packets if p.kind == SUBSCRIBE for s in parse_subscribe(p)],
        vda_publishes=site.edge_publishes(
            "/order", "/instantActions", "/state", "/connection", "/factsheet"
        ),
        problems=site.edge_vda_problems(),
        order_status=order_status,
    )


@pytest.fixture(scope="module")
def wire(mqtt_broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> EdgeWire:
    evidence = asyncio.run(_run(mqtt_broker, tmp_path_factory))
    assert evidence.order_status == "shipped"
    return evidence


def sent_on(wire: EdgeWire, leaf: str) -> list[Publish]:
    return [p for p in wire.vda_publishes if p.topic.endswith("/" + leaf)]


def test_mc_01_the_edge_speaks_mqtt_3_1_1_or_newer_with_utf8_json_payloads(
    wire: EdgeWire,
) -> None:
    assert wire.connects, "the edge never connected"
    assert {c.protocol_level for c in wire.connects} <= {4, 5}  # 3.1.1 or 5
    assert wire.vda_publishes
    for sent in wire.vda_publishes:
        body = json.loads(sent.payload.decode("utf-8"))
        assert isinstance(body, dict), sent.topic


def test_mc_02_the_edge_uses_the_vda5050_topics(wire: EdgeWire) -> None:
    filters = {f for f, _ in wire.subscriptions}
    for leaf in ("state", "connection", "factsheet"):
        assert any(re.fullmatch(rf"uagv/v2/[^/]+/\+/{leaf}", f) for f in filters), leaf
    topics = {p.topic for p in wire.vda_publishes}
    assert topics
    assert all(re.fullmatch(r"uagv/v2/[^/]+/AGV-0\d/(order|instantActions)", t) for t in topics)


def test_mc_04_orders_and_instant_actions_go_at_qos_0(wire: EdgeWire) -> None:
    orders, instant = sent_on(wire, "order"), sent_on(wire, "instantActions")
    order_ids = {json.loads(o.payload)["orderId"] for o in orders}
    assert any(i.endswith(".2") for i in order_ids), f"no resend of the failed trip: {order_ids}"
    assert instant, "no instant action was sent"
    assert {p.qos for p in orders + instant} == {0}


def test_mc_05_the_edge_subscribes_to_connection_at_qos_1(wire: EdgeWire) -> None:
    connection = [(f, qos) for f, qos in wire.subscriptions if f.endswith("/connection")]
    assert connection, wire.subscriptions
    assert all(f.startswith("uagv/v2/") for f, _ in connection)
    assert {qos for _, qos in connection} == {1}


def test_mc_06_orders_and_instant_actions_are_never_retained(wire: EdgeWire) -> None:
    sent = sent_on(wire, "order") + sent_on(wire, "instantActions")
    assert sent
    assert not any(p.retain for p in sent)


def test_mc_16_every_order_and_instant_action_on_the_wire_validates(wire: EdgeWire) -> None:
    # The schema check itself is shown to catch a bad message in tests/unit/vda5050.
    assert wire.problems == []


def test_the_edge_publishes_nothing_on_the_agv_side_topics(wire: EdgeWire) -> None:
    # state, connection and factsheet belong to the vehicle; a master that published there
    # would overwrite the AGV's retained connection state.
    assert [
        p.topic for p in wire.vda_publishes if not p.topic.endswith(("/order", "/instantActions"))
    ] == []
