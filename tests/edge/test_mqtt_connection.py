"""The edge's MQTT connection on the wire: it survives the broker dropping it while device
commands flow, keeps its session while offline, stamps its status messages when it sends
them, and gives up only when the broker refuses its credentials."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from controller.domain.messages import DeviceCommand, SorterDivert
from edge.mqtt import connection as connection_module
from edge.mqtt.connection import MqttConnection, NotAuthorized, Publication
from edge.mqtt.topics import controller_status
from edge.runtime import EdgeRuntime
from tests.conftest import Broker
from tests.edge.conftest import (
    edge_settings,
    forget_session,
    running_edge,
    scan,
    sorter_answers,
    sorter_events,
    until,
)

pytestmark = pytest.mark.mqtt

SCANS = 300  # a stream long enough that the takeover lands while diverts are in flight
TAKEOVER_AT = 100


class Device:
    """A test client standing in for the sorter (and watching the controller status)."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.answered: list[str] = []  # trackIds of the diverts received, in order
        self.statuses: list[dict[str, Any]] = []

    async def listen(self) -> None:
        async for message in self.client.messages:
            body = json.loads(message.payload)
            if "trackId" in body:
                self.answered.append(body["trackId"])
            else:
                self.statuses.append(body)

    def states(self) -> list[str]:
        return [s["state"] for s in self.statuses]


@contextlib.asynccontextmanager
async def device_for(broker: Broker, runtime: EdgeRuntime) -> AsyncIterator[Device]:
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe(sorter_answers(runtime), qos=1)
        await client.subscribe(controller_status(runtime.site.site), qos=1)
        device = Device(client)
        listener = asyncio.create_task(device.listen())
        try:
            yield device
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)


async def take_over_session(broker: Broker, client_id: str) -> None:
    """Connect with the edge's client id, which makes the broker drop the edge's connection
    (session takeover); the clean session also throws away the edge's subscriptions."""
    async with aiomqtt.Client(broker.host, broker.port, identifier=client_id, clean_session=True):
        pass


def ts(status: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(status["ts"].replace("Z", "+00:00"))


async def test_a_dropped_connection_is_resumed_and_no_divert_is_lost(
    mqtt_broker: Broker, site_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = edge_settings(mqtt_broker, site_config, tmp_path)
    async with running_edge(settings) as edge:
        runtime = edge.runtime
        produced: list[str] = []  # every divert the edge decided to send
        publication = runtime.outbound.publication

        def record(cmd: DeviceCommand, now: datetime) -> Publication:
            if isinstance(cmd, SorterDivert):
                produced.append(cmd.track_id)
            return publication(cmd, now)

        monkeypatch.setattr(runtime.outbound, "publication", record)
        async with device_for(mqtt_broker, runtime) as device:
            await until(lambda: device.states() == ["ONLINE"], "the retained birth")
            for i in range(SCANS):
                await device.client.publish(sorter_events(runtime), scan(f"T-{i}"), qos=1)
                if i == TAKEOVER_AT:
                    await until(lambda: len(produced) > TAKEOVER_AT // 2, "diverts flowing")
                    await take_over_session(mqtt_broker, edge.client_id)

            await until(
                lambda: device.states()[-1:] == ["ONLINE"] and len(device.states()) > 1,
                "the edge to reconnect (a second birth)",
            )
            await until(runtime.mqtt.connected.is_set, "the edge to be connected")
            await device.client.publish(sorter_events(runtime), scan("T-after"), qos=1)
            await until(lambda: "T-after" in device.answered, "the divert of a scan after it")
            await until(
                lambda: set(produced) <= set(device.answered),
                "every divert the edge decided to reach the sorter",
            )
            assert not edge.task.done()
    await forget_session(mqtt_broker, edge.client_id)


async def test_a_scan_sent_while_the_edge_is_offline_is_answered_when_it_is_back(
    mqtt_broker: Broker, site_config: Path, tmp_path: Path
) -> None:
    settings = edge_settings(mqtt_broker, site_config, tmp_path)
    async with running_edge(settings) as edge:  # connected once: the broker knows its session
        runtime = edge.runtime
    async with device_for(mqtt_broker, runtime) as device:
        await device.client.publish(sorter_events(runtime), scan("T-offline"), qos=1)
        async with running_edge(settings):  # back, with the same client id
            await until(lambda: "T-offline" in device.answered, "the divert of the offline scan")
    await forget_session(mqtt_broker, edge.client_id)


async def test_each_status_message_is_stamped_when_it_is_sent(
    mqtt_broker: Broker, site_config: Path, tmp_path: Path
) -> None:
    settings = edge_settings(mqtt_broker, site_config, tmp_path)
    async with running_edge(settings) as edge, device_for(mqtt_broker, edge.runtime) as device:
        await until(lambda: device.states() == ["ONLINE"], "the retained birth")
        first = device.statuses[0]
        await take_over_session(mqtt_broker, edge.client_id)
        await until(lambda: "ONLINE" in device.states()[1:], "the birth after the reconnect")
        again = next(s for s in device.statuses[1:] if s["state"] == "ONLINE")
        assert ts(again) > ts(first)
        await until(
            lambda: datetime.now(UTC) > ts(again) + timedelta(milliseconds=5),
            "the clock to move on",
        )
    async with device_for(mqtt_broker, edge.runtime) as device:
        await until(lambda: device.states() == ["OFFLINE"], "the retained goodbye")
        assert ts(device.statuses[0]) > ts(again)
    await forget_session(mqtt_broker, edge.client_id)


# --- a scripted broker: refused connections, and a connection dropped under a publish -------

STATUS = "warehouse/x/controller/status"
COMMAND = "warehouse/x/station/ST1/commands"
CONNECT, PUBLISH, SUBSCRIBE, PINGREQ, DISCONNECT = 1, 3, 8, 12, 14


class ScriptedBroker:
    """Just enough of an MQTT 3.1.1 broker to script what the edge's connection meets: CONNACK
    with `return_code`; SUBACK and PUBACK for everything, except that on the first connection
    a PUBLISH to `drop_on` is answered by closing the connection (no PUBACK)."""

    def __init__(self, return_code: int = 0, drop_on: str | None = None) -> None:
        self.return_code = return_code
        self.drop_on = drop_on
        self.received: list[list[str]] = []  # the topics published to us, per connection

    @property
    def connects(self) -> int:
        return len(self.received)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received: list[str] = []
        self.received.append(received)
        try:
            while True:
                kind, flags, body = await _read_packet(reader)
                if kind == CONNECT:
                    writer.write(bytes([0x20, 2, 0, self.return_code]))
                elif kind == SUBSCRIBE:
                    granted, rest = [], body[2:]
                    while rest:
                        size = int.from_bytes(rest[:2], "big")
                        granted.append(rest[2 + size])
                        rest = rest[3 + size :]
                    writer.write(bytes([0x90, 2 + len(granted)]) + body[:2] + bytes(granted))
                elif kind == PUBLISH:
                    size = int.from_bytes(body[:2], "big")
                    topic = body[2 : 2 + size].decode()
                    received.append(topic)
                    if topic == self.drop_on and len(self.received) == 1:
                        break
                    if flags & 0x06:  # QoS 1
                        writer.write(bytes([0x40, 2]) + body[2 + size : 4 + size])
                elif kind == PINGREQ:
                    writer.write(bytes([0xD0, 0]))
                elif kind == DISCONNECT:
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _read_packet(reader: asyncio.StreamReader) -> tuple[int, int, bytes]:
    first = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:  # remaining length, a variable byte integer
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return first >> 4, first & 0x0F, await reader.readexactly(length)


@contextlib.asynccontextmanager
async def scripted_connection(
    broker: ScriptedBroker,
) -> AsyncIterator[tuple[MqttConnection, asyncio.Task[None]]]:
    server = await asyncio.start_server(broker.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    status = Publication(STATUS, b"{}", qos=1, retain=True)
    mqtt = MqttConnection(
        host="127.0.0.1",
        port=port,
        client_id="edge-scripted",
        keepalive=5,
        birth=lambda: status,
        will=lambda: status,
        goodbye=lambda: status,
    )

    async def handle(topic: str, payload: bytes) -> None:
        pass

    task = asyncio.create_task(mqtt.run([], handle))
    try:
        yield mqtt, task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("return_code", [4, 5])  # bad user name or password; not authorised
async def test_refused_credentials_stop_the_connection_for_good(return_code: int) -> None:
    broker = ScriptedBroker(return_code)
    async with scripted_connection(broker) as (_, task):
        await until(task.done, "the connection to give up")
        assert isinstance(task.exception(), NotAuthorized)
        assert broker.connects == 1


@pytest.mark.parametrize("return_code", [2, 3])  # identifier rejected; server unavailable
async def test_other_refusals_are_retried(
    return_code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection_module, "RECONNECT_FIRST_S", 0.01)
    broker = ScriptedBroker(return_code)
    async with scripted_connection(broker) as (mqtt, task):
        await until(lambda: broker.connects >= 3 or task.done(), "three attempts")
        assert not task.done(), task.exception()
        assert not mqtt.connected.is_set()


async def test_a_command_whose_connection_dropped_before_its_puback_is_sent_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connection_module, "RECONNECT_FIRST_S", 0.01)
    broker = ScriptedBroker(drop_on=COMMAND)
    async with scripted_connection(broker) as (mqtt, task):
        await until(mqtt.connected.is_set, "the first connection")
        sent = await mqtt.publish(Publication(COMMAND, b'{"command": "pick"}'))
        await until(sent.done, "the broker to acknowledge the command")
        assert broker.received == [[STATUS, COMMAND], [STATUS, COMMAND]]
        assert mqtt.connects == 2
        assert not task.done()
