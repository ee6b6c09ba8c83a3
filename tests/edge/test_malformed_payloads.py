"""Malformed payloads on every subscribed topic are counted, logged once and dropped, and the
edge goes on working (against the real broker)."""

from __future__ import annotations

import asyncio
import functools
import json
import logging

import aiomqtt
import pytest

from edge.mqtt.topics import Kind, agv_topic, reader_topic, sorter_commands
from edge.runtime import EdgeRuntime
from tests.conftest import Broker
from tests.edge.conftest import DEADLINE_S, until

pytestmark = pytest.mark.mqtt

MALFORMED = (
    b"not json at all",
    b"\xff\xfe\x00",
    b"[1, 2, 3]",
    b'{"unexpected": "shape"}',
    b"",
)


def subscribed_topics(runtime: EdgeRuntime) -> dict[Kind, list[str]]:
    site = runtime.site
    agv = site.agvs[0]
    return {
        Kind.AGV_STATE: [agv_topic(agv.manufacturer, agv.serial_number, "state")],
        Kind.AGV_CONNECTION: [agv_topic(agv.manufacturer, agv.serial_number, "connection")],
        Kind.RFID: [reader_topic(site, r.id) for r in site.rfid_readers],
        Kind.SORTER: [f"warehouse/{site.site}/sorter/{site.sorter.id}/events"],
        Kind.STATION: [f"warehouse/{site.site}/station/{s.id}/events" for s in site.stations],
        Kind.DOCK: [f"warehouse/{site.site}/dock/{d.id}/events" for d in site.dock_doors],
    }


def dropped(runtime: EdgeRuntime, kind: Kind) -> float:
    value = runtime.metrics.registry.get_sample_value(
        "warehouse_edge_mqtt_dropped_total", {"kind": kind.value, "reason": "malformed"}
    )
    return value or 0.0


def dropped_all(runtime: EdgeRuntime, kind: Kind, expected: int) -> bool:
    return dropped(runtime, kind) == expected


async def test_malformed_payloads_on_every_topic_are_counted_and_dropped_and_the_edge_keeps_working(
    edge: EdgeRuntime, mqtt_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="edge.runtime")
    topics = subscribed_topics(edge)
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client:
        await client.subscribe(sorter_commands(edge.site.site, edge.site.sorter.id), qos=1)
        for kind_topics in topics.values():
            for topic in kind_topics:
                for payload in MALFORMED:
                    await client.publish(topic, payload, qos=1)
        for kind, kind_topics in topics.items():
            expected = len(kind_topics) * len(MALFORMED)
            await until(functools.partial(dropped_all, edge, kind, expected), f"{kind} drops")

        # still alive: a scan is answered (a no-read goes to the reject chute)
        scan = {"event": "scanned", "trackId": "T-1", "codes": [], "ts": "2026-11-22T10:00:00Z"}
        await client.publish(topics[Kind.SORTER][0], json.dumps(scan), qos=1)
        async with asyncio.timeout(DEADLINE_S):
            message = await anext(aiter(client.messages))
    answer = json.loads(message.payload)
    assert (answer["command"], answer["trackId"]) == ("divert", "T-1")
    assert answer["chute"] == edge.site.sorter.reject_chute

    warned = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    every_topic = [t for kind_topics in topics.values() for t in kind_topics]
    for topic in every_topic:  # logged once per topic, not once per message
        assert sum(f" on {topic} " in line for line in warned) == 1, topic


async def test_a_vda_state_whose_header_names_another_vehicle_is_dropped(
    edge: EdgeRuntime, mqtt_broker: Broker
) -> None:
    agv = edge.site.agvs[0]
    state = {
        "headerId": 1,
        "timestamp": "2026-11-22T10:00:00.00Z",
        "version": "2.1.0",
        "manufacturer": agv.manufacturer,
        "serialNumber": "SOMEONE-ELSE",
        "orderId": "",
        "orderUpdateId": 0,
        "lastNodeId": agv.start_node,
        "lastNodeSequenceId": 0,
        "nodeStates": [],
        "edgeStates": [],
        "driving": False,
        "actionStates": [],
        "batteryState": {"batteryCharge": 90.0, "charging": False},
        "operatingMode": "AUTOMATIC",
        "errors": [],
        "safetyState": {"eStop": "NONE", "fieldViolation": False},
    }
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client:
        topic = agv_topic(agv.manufacturer, agv.serial_number, "state")
        await client.publish(topic, json.dumps(state), qos=1)
        await until(lambda: dropped(edge, Kind.AGV_STATE) == 1, "the mismatched state drop")
    assert edge.controller.agvs[agv.serial_number].state is None
