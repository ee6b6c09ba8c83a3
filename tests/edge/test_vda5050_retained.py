"""CHECKLIST 7 on the real broker: what the broker hands over as retained when the edge
subscribes is the vehicle's current connection and factsheet, however old its header."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from controller.domain.messages import ConnectionState
from controller.siteconfig import load_site
from simulators.agv.factsheet import factsheet_body
from tests.conftest import Broker
from tests.edge.conftest import edge_settings, forget_session, running_edge, until

pytestmark = pytest.mark.mqtt

# Months before the edge starts: a retained message is as old as the last time it was sent.
LONG_AGO = "2026-01-05T06:00:00.00Z"


def header(manufacturer: str, serial: str) -> dict[str, Any]:
    return {
        "headerId": 1,
        "timestamp": LONG_AGO,
        "version": "2.1.0",
        "manufacturer": manufacturer,
        "serialNumber": serial,
    }


async def test_mc_07_retained_connection_and_factsheet_found_at_subscribe_are_current(
    mqtt_broker: Broker, site_config: Path, tmp_path: Path
) -> None:
    agv = load_site(site_config).agvs[0]
    topic = f"uagv/v2/{agv.manufacturer}/{agv.serial_number}"
    retained = {
        f"{topic}/connection": header(agv.manufacturer, agv.serial_number)
        | {"connectionState": "ONLINE"},
        f"{topic}/factsheet": header(agv.manufacturer, agv.serial_number)
        | factsheet_body(speed_mps=0.7, pick_time_s=4.0, drop_time_s=4.0),
    }
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client:
        for name, body in retained.items():
            await client.publish(name, json.dumps(body), qos=1, retain=True)
    settings = edge_settings(mqtt_broker, site_config, tmp_path)
    try:
        async with running_edge(settings) as edge:
            seen = edge.runtime.controller.agvs[agv.serial_number]
            await until(
                lambda: (
                    seen.connection is ConnectionState.ONLINE
                    and seen.master.vehicle.capabilities.from_factsheet
                ),
                "the retained connection and factsheet taken in",
            )
            # The retained factsheet came first (the edge subscribes to it first), so the
            # retained ONLINE found it and asked for none (CHECKLIST 73).
            assert seen.master.factsheet_requested is False
    finally:
        await forget_session(mqtt_broker, settings.mqtt.client_id or f"edge-{agv.serial_number}")
        async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client:
            for name in retained:
                await client.publish(name, b"", qos=1, retain=True)
