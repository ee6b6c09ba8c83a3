"""No single failure ends the edge: a message whose effects cannot be carried out is dropped
and counted, and a loop that fails unexpectedly logs it, counts it, backs off and carries on."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from controller.domain.messages import DeviceCommand
from controller.service.site_controller import Output
from edge.mqtt.connection import Publication
from edge.runtime import EdgeRuntime, bootstrap
from edge.settings import CentralSettings, EdgeSettings
from tests.conftest import Broker
from tests.edge.conftest import (
    NOTHING_LISTENS,
    edge_settings,
    forget_session,
    running_edge,
    scan,
    sorter_events,
    until,
)


def sample(runtime: EdgeRuntime, name: str, labels: dict[str, str]) -> float:
    return runtime.metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def idle_edge(site_config: Path, tmp_path: Path) -> AsyncIterator[EdgeRuntime]:
    """Bootstrapped, not running: messages are fired in without a broker."""
    settings = EdgeSettings(
        site_config=site_config,
        central=CentralSettings(url=NOTHING_LISTENS),
        db_path=tmp_path / "edge.db",
        metrics_port=0,
    )
    runtime = await bootstrap(settings)
    yield runtime
    await runtime.central.close()
    await runtime.outbox.close()


async def test_a_message_whose_effects_cannot_be_carried_out_is_dropped_and_the_next_is_handled(
    idle_edge: EdgeRuntime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = idle_edge
    publication = runtime.outbound.publication
    calls = 0

    def failing_once(cmd: DeviceCommand, now: datetime) -> Publication:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the encoder broke")
        return publication(cmd, now)

    monkeypatch.setattr(runtime.outbound, "publication", failing_once)
    await runtime.on_message(sorter_events(runtime), scan("T-1"))  # does not raise
    dropped = {"kind": "sorter", "reason": "handler_error"}
    assert sample(runtime, "warehouse_edge_mqtt_dropped_total", dropped) == 1
    assert any(r.exc_info for r in caplog.records if r.name == "edge.runtime")

    await runtime.on_message(sorter_events(runtime), scan("T-2"))
    published = {"kind": "SorterDivert"}
    assert sample(runtime, "warehouse_edge_mqtt_published_total", published) == 1


@pytest.mark.mqtt
async def test_a_tick_that_fails_is_logged_counted_and_the_ticks_go_on(
    mqtt_broker: Broker,
    site_config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="edge.runtime")
    settings = edge_settings(mqtt_broker, site_config, tmp_path, tick_interval_s=0.01)
    ticks = 0

    def break_ticks(runtime: EdgeRuntime) -> None:
        tick = runtime.controller.tick

        def failing_twice(now: datetime) -> list[Output]:
            nonlocal ticks
            ticks += 1
            if ticks <= 2:
                raise RuntimeError("a broken invariant")
            return tick(now)

        monkeypatch.setattr(runtime.controller, "tick", failing_twice)

    async with running_edge(settings, before_run=break_ticks) as edge:
        await until(lambda: ticks >= 5, "ticks after the failures")
        errors = sample(edge.runtime, "warehouse_edge_loop_errors_total", {"loop": "tick"})
        assert errors == 2
        failures = [r for r in caplog.records if "'tick' failed" in r.getMessage()]
        assert len(failures) == 2
        assert all(r.exc_info for r in failures)  # with the traceback
    await forget_session(mqtt_broker, edge.client_id)
