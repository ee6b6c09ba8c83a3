"""A dock door on the broker: door events here, tag reads through the door's reader device."""

from __future__ import annotations

import random

from simulators.common.clock import SimClock, iso_ms
from simulators.common.config import DockDoorConfig
from simulators.common.device import DeviceShell, dumps
from simulators.common.mqtt import Link
from simulators.common.world import World
from simulators.dock.model import (
    DockDoorModel,
    DockDurations,
    DoorEvent,
    DoorReads,
    Output,
    ParcelLoaded,
    TruckDeparted,
)
from simulators.rfid_gate.device import RfidReaderDevice


class DockDoorDevice(DeviceShell):
    def __init__(
        self,
        *,
        config: DockDoorConfig,
        site: str,
        world: World,
        gate: RfidReaderDevice,
        clock: SimClock,
        host: str,
        port: int,
        rng: random.Random,
        durations: DockDurations | None = None,
    ) -> None:
        super().__init__(host=host, port=port, clock=clock)
        self.model = DockDoorModel(door_id=config.id, rng=rng, durations=durations)
        self.world = world
        self.gate = gate
        self.client_id = f"{site}-dock-{config.id}"
        self.events_topic = f"warehouse/{site}/dock/{config.id}/events"

    def receive(self, parcel_id: str, arrive_at: float) -> None:
        """A parcel will reach the door at sim time `arrive_at`."""
        parcel = self.world.parcels.get(parcel_id)
        if parcel is not None:
            parcel.location = f"conveyor:->{self.model.door_id}"
        self.model.receive(parcel_id, parcel.epc if parcel else None, arrive_at)
        self.wake()

    async def on_tick(self, link: Link) -> float | None:
        await self._emit(self.model.advance(self.clock.now()), link)
        due = self.model.next_due()
        return None if due is None else self.clock.wall_delay(due)

    async def _emit(self, outputs: list[Output], link: Link) -> None:
        for output in outputs:
            if isinstance(output, DoorEvent):
                payload = {**output.payload, "ts": iso_ms(self.clock.utc_at(output.at))}
                await link.publish(self.events_topic, dumps(payload), qos=1)
            elif isinstance(output, DoorReads):
                self.gate.feed(output.reads)
            elif isinstance(output, ParcelLoaded):
                parcel = self.world.parcels.get(output.parcel_id)
                if parcel is not None:
                    parcel.location = f"truck:{self.model.door_id}#{output.truck}"
            elif isinstance(output, TruckDeparted):
                for parcel_id in output.parcel_ids:
                    parcel = self.world.parcels.get(parcel_id)
                    if parcel is not None:
                        parcel.location = f"shipped:{self.model.door_id}#{output.truck}"
