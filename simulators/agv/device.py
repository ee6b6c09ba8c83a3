"""An AGV on the broker: one MQTT connection per vehicle (VDA 5050 2.1 §6.14).

Connection: last will `connection` CONNECTIONBROKEN (QoS 1, retained) set at CONNECT, then
ONLINE (QoS 1, retained); on a clean stop OFFLINE, then DISCONNECT (the shell). Factsheet
retained on every connect and again on `factsheetRequest`; state on every trigger and at
least every `state_interval_s` wall seconds.

Fault injection for tests and demos: `inject_fatal_error`, `clear_fatal_error`,
`set_speed_factor`, `refuse_next_orders` (the model's, stamped with the clock's now) and
`drop_connection` (the shell's).
"""

from __future__ import annotations

import logging
import random
from typing import Any

from simulators.agv.model import AgvDurations, AgvModel
from simulators.common.clock import SimClock, vda_timestamp
from simulators.common.config import AgvConfig, SiteMap
from simulators.common.device import DeviceShell, dumps, min_delay
from simulators.common.mqtt import Link, Will
from simulators.common.world import World

log = logging.getLogger(__name__)

STATE_INTERVAL_WALL_S = 10.0  # VDA 5050 §6.10: a state at least every 30 s; we send every 10 s
KEEPALIVE_S = 15  # VDA 5050 §6.14: an MQTT keepalive of about 15 s
INTERFACE = "uagv"
MAJOR = "v2"


class AgvDevice(DeviceShell):
    keepalive_s = KEEPALIVE_S

    def __init__(
        self,
        *,
        config: AgvConfig,
        site_map: SiteMap,
        world: World,
        clock: SimClock,
        host: str,
        port: int,
        rng: random.Random,
        durations: AgvDurations | None = None,
        state_interval_s: float = STATE_INTERVAL_WALL_S,
    ) -> None:
        super().__init__(host=host, port=port, clock=clock)
        self.state_interval_s = state_interval_s
        self.model = AgvModel(
            manufacturer=config.manufacturer,
            serial_number=config.serial_number,
            start_node=config.start_node,
            speed_mps=config.speed_mps,
            site_map=site_map,
            world=world,
            rng=rng,
            durations=durations,
        )
        self.client_id = f"{config.manufacturer}-{config.serial_number}"
        self.base = f"{INTERFACE}/{MAJOR}/{config.manufacturer}/{config.serial_number}"
        self._headers: dict[str, int] = {}
        self._last_state_wall = float("-inf")

    def _next_header(self, topic: str) -> int:
        self._headers[topic] = self._headers.get(topic, -1) + 1
        return self._headers[topic]

    def _timestamp(self) -> str:
        return vda_timestamp(self.clock.utc_at(self.clock.now()))

    def will(self) -> Will:
        message = self.model.connection(
            "CONNECTIONBROKEN", self._next_header("connection"), self._timestamp()
        )
        return Will(f"{self.base}/connection", dumps(message), qos=1, retain=True)

    def subscriptions(self) -> list[tuple[str, int]]:
        return [(f"{self.base}/order", 1), (f"{self.base}/instantActions", 1)]

    async def on_connected(self, link: Link) -> None:
        await self._publish_connection(link, "ONLINE")
        await self._publish_factsheet(link)
        self.model.advance(self.clock.now())
        self.model.take_state_trigger()
        await self._publish_state(link)

    async def on_message(self, topic: str, payload: Any, link: Link) -> None:
        now = self.clock.now()
        if topic.endswith("/order"):
            self.model.receive_order(payload, now)
        elif topic.endswith("/instantActions"):
            self.model.receive_instant_actions(payload, now)
        await self._flush(link)

    async def on_tick(self, link: Link) -> float | None:
        self.model.advance(self.clock.now())
        await self._flush(link)
        wall = self.clock.wall()
        if wall - self._last_state_wall >= self.state_interval_s:
            await self._publish_state(link)
        due = self.model.next_due()
        periodic = self._last_state_wall + self.state_interval_s - self.clock.wall()
        return min_delay(None if due is None else self.clock.wall_delay(due), max(0.0, periodic))

    # ---- injected faults (connection loss: DeviceShell.drop_connection) -------------------

    def inject_fatal_error(self, **details: str) -> None:
        """See `AgvModel.inject_fatal_error`; `details` are its `error_type`/`description`."""
        self.model.inject_fatal_error(self.clock.now(), **details)
        self.wake()

    def clear_fatal_error(self) -> None:
        self.model.clear_fatal_error(self.clock.now())
        self.wake()

    def set_speed_factor(self, factor: float) -> None:
        self.model.set_speed_factor(factor, self.clock.now())
        self.wake()

    def refuse_next_orders(self, count: int = 1) -> None:
        self.model.refuse_next_orders(count)

    async def on_clean_stop(self, link: Link) -> None:
        await self._publish_connection(link, "OFFLINE")

    async def _flush(self, link: Link) -> None:
        if self.model.take_factsheet_request():
            await self._publish_factsheet(link)
        if self.model.take_state_trigger():
            await self._publish_state(link)

    async def _publish_state(self, link: Link) -> None:
        message = self.model.state(self.clock.now(), self._next_header("state"), self._timestamp())
        self._last_state_wall = self.clock.wall()
        await link.publish(f"{self.base}/state", dumps(message), qos=0)

    async def _publish_connection(self, link: Link, connection_state: str) -> None:
        message = self.model.connection(
            connection_state, self._next_header("connection"), self._timestamp()
        )
        await link.publish(f"{self.base}/connection", dumps(message), qos=1, retain=True)

    async def _publish_factsheet(self, link: Link) -> None:
        message = self.model.factsheet(self._next_header("factsheet"), self._timestamp())
        await link.publish(f"{self.base}/factsheet", dumps(message), qos=0, retain=True)
