"""The edge announces itself: a retained status, OFFLINE on a clean stop, and a last will
that the broker publishes when the process dies (real process, real broker)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiomqtt
import pytest

from edge.mqtt.topics import controller_status
from tests.conftest import Broker

pytestmark = [pytest.mark.mqtt, pytest.mark.e2e]

DEADLINE_S = 20.0


async def start_edge(
    broker: Broker, site_config: Path, tmp_path: Path
) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "WH_SITE_CONFIG": str(site_config),
        "WH_MQTT__HOST": broker.host,
        "WH_MQTT__PORT": str(broker.port),
        "WH_CENTRAL__URL": "http://127.0.0.1:9",  # no central API: the edge runs without it
        "WH_DB_PATH": str(tmp_path / "edge.db"),
        "WH_METRICS_PORT": "0",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "edge.cli", "edge", env=env, stderr=asyncio.subprocess.DEVNULL
    )


async def next_status(client: aiomqtt.Client) -> tuple[str, bool]:
    async with asyncio.timeout(DEADLINE_S):
        message = await anext(aiter(client.messages))
    return json.loads(message.payload)["state"], message.retain  # type: ignore[arg-type]


async def test_the_edge_says_online_then_offline_on_a_clean_stop_then_broken_when_killed(
    mqtt_broker: Broker, site_config: Path, site_id: str, tmp_path: Path
) -> None:
    topic = controller_status(site_id)
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client:
        await client.subscribe(topic, qos=1)
        edge = await start_edge(mqtt_broker, site_config, tmp_path)
        assert (await next_status(client))[0] == "ONLINE"
        edge.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(edge.wait(), DEADLINE_S) == 0
        assert (await next_status(client))[0] == "OFFLINE"

        edge = await start_edge(mqtt_broker, site_config, tmp_path)
        assert (await next_status(client))[0] == "ONLINE"
        edge.kill()  # no goodbye: the broker speaks the last will
        await edge.wait()
        assert (await next_status(client))[0] == "CONNECTIONBROKEN"

    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as late:
        await late.subscribe(topic, qos=1)
        # a late subscriber learns the last word from the retained message
        assert await next_status(late) == ("CONNECTIONBROKEN", True)
        await late.publish(topic, b"", qos=1, retain=True)  # leave no retained message behind
