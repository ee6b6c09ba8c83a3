"""A station terminal on the broker; its pack gate is a separate reader device."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

from simulators.common.clock import SimClock, iso_ms
from simulators.common.config import StationConfig
from simulators.common.device import DeviceShell, dumps
from simulators.common.mqtt import Link
from simulators.common.world import World
from simulators.rfid_gate.device import RfidReaderDevice
from simulators.station.model import (
    GateReads,
    Ignored,
    Output,
    ParcelToSorter,
    StationDurations,
    StationEvent,
    StationModel,
)

log = logging.getLogger(__name__)


class StationDevice(DeviceShell):
    def __init__(
        self,
        *,
        config: StationConfig,
        site: str,
        world: World,
        gate: RfidReaderDevice,
        to_sorter: Callable[[str, float], None],
        company_prefix_len: int,
        clock: SimClock,
        host: str,
        port: int,
        rng: random.Random,
        short_pick_probability: float = 0.0,
        durations: StationDurations | None = None,
    ) -> None:
        super().__init__(host=host, port=port, clock=clock)
        self.model = StationModel(
            station_id=config.id,
            node=config.node,
            world=world,
            rng=rng,
            company_prefix_len=company_prefix_len,
            short_pick_probability=short_pick_probability,
            durations=durations,
        )
        self.gate = gate
        self.to_sorter = to_sorter
        self.client_id = f"{site}-station-{config.id}"
        self.commands_topic = f"warehouse/{site}/station/{config.id}/commands"
        self.events_topic = f"warehouse/{site}/station/{config.id}/events"

    def subscriptions(self) -> list[tuple[str, int]]:
        return [(self.commands_topic, 1)]

    async def on_message(self, topic: str, payload: Any, link: Link) -> None:
        now = self.clock.now()
        await self._emit(self.model.handle_command(payload, now), link)

    async def on_tick(self, link: Link) -> float | None:
        await self._emit(self.model.advance(self.clock.now()), link)
        due = self.model.next_due()
        return None if due is None else self.clock.wall_delay(due)

    async def _emit(self, outputs: list[Output], link: Link) -> None:
        for output in outputs:
            if isinstance(output, StationEvent):
                payload = {**output.payload, "ts": iso_ms(self.clock.utc_at(output.at))}
                await link.publish(self.events_topic, dumps(payload), qos=1)
            elif isinstance(output, GateReads):
                self.gate.feed(output.reads)
            elif isinstance(output, ParcelToSorter):
                self.to_sorter(output.parcel_id, output.arrive_at)
            elif isinstance(output, Ignored):
                log.warning("%s: %s", self.client_id, output.reason)
