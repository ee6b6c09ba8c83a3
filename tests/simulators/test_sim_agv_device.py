"""The AGV device shell without a broker: a fake link records what it publishes and a fake
monotonic clock stands in for wall time, so the state interval is checked exactly."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from simulators.agv.device import KEEPALIVE_S, STATE_INTERVAL_WALL_S, AgvDevice
from simulators.common.clock import SimClock
from simulators.common.config import AgvConfig, SiteConfig, SiteMap
from simulators.common.world import World
from tests.simulators.sim_testing import assert_valid, instant, order

VDA_STATE_INTERVAL_S = 30.0  # VDA 5050 §6.10: a state at least every 30 s


class RecordingLink:
    """Stands in for `simulators.common.mqtt.Link`; checks every message as it is sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], int, bool]] = []

    async def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 0, retain: bool = False
    ) -> None:
        message = json.loads(payload)
        assert_valid(topic.rsplit("/", 1)[1], message)
        self.sent.append((topic, message, qos, retain))

    def states(self) -> list[dict[str, Any]]:
        return [m for topic, m, _, _ in self.sent if topic.endswith("/state")]


class FakeWall:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wall() -> FakeWall:
    return FakeWall()


@pytest.fixture
def device(demo_site: SiteConfig, world: World, wall: FakeWall) -> AgvDevice:
    return AgvDevice(
        config=AgvConfig(serial_number="AGV-01", manufacturer="simbotics", start_node="F06"),
        site_map=SiteMap(demo_site),
        world=world,
        clock=SimClock(10.0, monotonic=wall),
        host="127.0.0.1",
        port=1,  # never connected in these tests
        rng=random.Random(7),
    )


async def test_agv_48_device_publishes_a_state_on_each_trigger_and_at_least_every_30_s(
    device: AgvDevice, wall: FakeWall
):
    link = RecordingLink()
    await device.on_connected(link)
    assert len(link.states()) == 1
    assert STATE_INTERVAL_WALL_S <= VDA_STATE_INTERVAL_S

    # idle: the shell sleeps until the periodic state is due, then sends it
    delay = await device.on_tick(link)
    assert delay == pytest.approx(STATE_INTERVAL_WALL_S)
    assert len(link.states()) == 1
    for _ in range(3):
        wall.now += delay
        delay = await device.on_tick(link)
        assert delay == pytest.approx(STATE_INTERVAL_WALL_S)
    assert len(link.states()) == 4

    # a trigger (an order received) publishes at once, and restarts the interval
    wall.now += 1.0
    await device.on_message(f"{device.base}/order", order(["F06", "A1-01"]), link)
    assert link.states()[-1]["orderId"] == "o-1"
    assert link.states()[-1]["driving"] is True
    count = len(link.states())
    wall.now += 0.05  # sim 0.5 s: mid-edge, no trigger
    await device.on_tick(link)
    assert len(link.states()) == count
    wall.now += 0.3  # sim 3.5 s: arrived (node traversed, driving stopped)
    await device.on_tick(link)
    assert link.states()[-1]["lastNodeId"] == "A1-01"
    assert link.states()[-1]["driving"] is False


async def test_agv_48_state_interval_can_be_shortened(demo_site: SiteConfig, world: World):
    wall = FakeWall()
    device = AgvDevice(
        config=AgvConfig(serial_number="AGV-01", manufacturer="simbotics", start_node="F06"),
        site_map=SiteMap(demo_site),
        world=world,
        clock=SimClock(10.0, monotonic=wall),
        host="127.0.0.1",
        port=1,
        rng=random.Random(7),
        state_interval_s=2.0,
    )
    link = RecordingLink()
    await device.on_connected(link)
    assert await device.on_tick(link) == pytest.approx(2.0)


async def test_agv_46_device_answers_state_and_factsheet_requests(device: AgvDevice):
    link = RecordingLink()
    await device.on_connected(link)
    link.sent.clear()
    await device.on_message(
        f"{device.base}/instantActions",
        instant(("s-1", "stateRequest"), ("f-1", "factsheetRequest")),
        link,
    )
    leaves = [topic.rsplit("/", 1)[1] for topic, _, _, _ in link.sent]
    assert leaves == ["factsheet", "state"]
    assert {a["actionId"]: a["actionStatus"] for a in link.states()[-1]["actionStates"]} == {
        "s-1": "FINISHED",
        "f-1": "FINISHED",
    }


async def test_device_faults_show_up_in_the_next_state(device: AgvDevice, wall: FakeWall):
    link = RecordingLink()
    await device.on_connected(link)
    await device.on_message(f"{device.base}/order", order(["F06", "A1-01"]), link)
    device.set_speed_factor(0.5)
    await device.on_tick(link)
    assert link.states()[-1]["velocity"]["vx"] == 0.75
    wall.now += 0.1
    device.inject_fatal_error()
    await device.on_tick(link)
    [error] = link.states()[-1]["errors"]
    assert error["errorLevel"] == "FATAL"
    device.clear_fatal_error()
    await device.on_tick(link)
    assert link.states()[-1]["errors"] == []
    device.refuse_next_orders()
    await device.on_message(
        f"{device.base}/order",
        order(["F06", "A1-01"], order_id="o-2"),
        link,
    )
    assert link.states()[-1]["errors"][0]["errorType"] == "orderError"


def test_agv_69_device_keepalive_is_about_15_s(device: AgvDevice):
    assert device.keepalive_s == KEEPALIVE_S == 15  # on the wire: test_sim_agv_wire.py
