"""The edge under test: the real EdgeRuntime (bootstrap and run) on the real broker, a fake
central API where a test needs one, and waiting by polling with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

from edge.central import CentralApi
from edge.mqtt.topics import sorter_commands
from edge.runtime import EdgeRuntime, bootstrap
from edge.settings import CentralSettings, EdgeSettings, MqttSettings
from tests.conftest import Broker

DEADLINE_S = 10.0
NOTHING_LISTENS = "http://127.0.0.1:9"


async def until(predicate: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S) -> None:
    """Poll `predicate` until it holds; fail the test after `deadline_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while not predicate():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {deadline_s} s waiting for {what}")
        await asyncio.sleep(0.01)


def edge_settings(
    broker: Broker, site_config: Path, tmp_path: Path, **changes: Any
) -> EdgeSettings:
    settings = EdgeSettings(
        site_config=site_config,
        mqtt=MqttSettings(host=broker.host, port=broker.port),
        central=CentralSettings(url=NOTHING_LISTENS, poll_interval_s=5),
        db_path=tmp_path / "edge.db",
        metrics_port=0,
    )
    return settings.model_copy(update=changes)


@dataclass
class RunningEdge:
    runtime: EdgeRuntime
    task: asyncio.Task[None]
    client_id: str


@contextlib.asynccontextmanager
async def running_edge(
    settings: EdgeSettings,
    central: Callable[[EdgeRuntime], CentralApi] | None = None,
    before_run: Callable[[EdgeRuntime], None] | None = None,
) -> AsyncIterator[RunningEdge]:
    """Bootstrap and run the edge until connected; on leaving, stop it cleanly. Fails the test
    if the run ended by itself (it must only end when asked to)."""
    runtime = await bootstrap(settings)
    if central is not None:
        await runtime.central.close()
        runtime.central = central(runtime)
    if before_run is not None:
        before_run(runtime)
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    edge = RunningEdge(runtime, task, settings.mqtt.client_id or f"edge-{runtime.site.site}")
    try:
        await until(lambda: runtime.mqtt.connected.is_set() or task.done(), "the edge to connect")
        assert not task.done(), "the edge stopped while connecting"
        yield edge
        assert not task.done(), "the edge stopped by itself"
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, DEADLINE_S)
        finally:
            await runtime.central.close()
            await runtime.outbox.close()


async def forget_session(broker: Broker, client_id: str) -> None:
    """Drop the broker's persistent session of `client_id` (a clean session replaces it)."""
    async with aiomqtt.Client(broker.host, broker.port, identifier=client_id, clean_session=True):
        pass


@pytest.fixture
async def edge(
    mqtt_broker: Broker, site_config: Path, tmp_path: Path
) -> AsyncIterator[EdgeRuntime]:
    async with running_edge(edge_settings(mqtt_broker, site_config, tmp_path)) as running:
        yield running.runtime
    await forget_session(mqtt_broker, running.client_id)


def fake_central(
    runtime: EdgeRuntime, handler: Callable[[httpx.Request], httpx.Response]
) -> CentralApi:
    return CentralApi(
        NOTHING_LISTENS, "edge-key", runtime.site.site, transport=httpx.MockTransport(handler)
    )


def scan(track_id: str, codes: list[str] | None = None) -> bytes:
    body = {"event": "scanned", "trackId": track_id, "codes": codes or []}
    return json.dumps({**body, "ts": "2026-11-22T10:00:00Z"}).encode()


def sorter_events(runtime: EdgeRuntime) -> str:
    return f"warehouse/{runtime.site.site}/sorter/{runtime.site.sorter.id}/events"


def sorter_answers(runtime: EdgeRuntime) -> str:
    return sorter_commands(runtime.site.site, runtime.site.sorter.id)
