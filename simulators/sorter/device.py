"""The sorter PLC on the broker (DESIGN §5.3)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from simulators.common.clock import SimClock, iso_ms
from simulators.common.config import SiteConfig
from simulators.common.device import DeviceShell, dumps, min_delay
from simulators.common.mqtt import Link
from simulators.common.world import World
from simulators.sorter.model import (
    Ignored,
    Output,
    ParcelInChute,
    ParcelToDoor,
    SorterDurations,
    SorterEvent,
    SorterModel,
)

log = logging.getLogger(__name__)


def chute_doors(site: SiteConfig) -> dict[str, str]:
    """Each carrier chute's dock door: the door whose carriers include the chute's carrier."""
    doors: dict[str, str] = {}
    assert site.sorter is not None
    for chute in site.sorter.chutes:
        for door in site.dock_doors:
            if chute.carrier is not None and chute.carrier in door.carriers:
                doors[chute.id] = door.id
                break
    return doors


class SorterDevice(DeviceShell):
    def __init__(
        self,
        *,
        site: SiteConfig,
        world: World,
        to_door: Callable[[str, str, float], None],
        clock: SimClock,
        host: str,
        port: int,
        durations: SorterDurations | None = None,
    ) -> None:
        super().__init__(host=host, port=port, clock=clock)
        sorter = site.sorter
        assert sorter is not None
        self.model = SorterModel(
            sorter_id=sorter.id,
            chutes={c.id: c.carrier for c in sorter.chutes},
            reject_chute=sorter.reject_chute,
            chute_to_door=chute_doors(site),
            decision_window_s=sorter.decision_window_ms / 1000.0,
            durations=durations,
        )
        self.world = world
        self.to_door = to_door
        self.client_id = f"{site.site}-sorter-{sorter.id}"
        self.events_topic = f"warehouse/{site.site}/sorter/{sorter.id}/events"
        self.commands_topic = f"warehouse/{site.site}/sorter/{sorter.id}/commands"

    def induct(self, parcel_id: str, arrive_at: float) -> None:
        """A parcel will reach the induct at sim time `arrive_at`."""
        parcel = self.world.parcels.get(parcel_id)
        codes = ["00" + parcel.sscc] if parcel is not None and parcel.sscc else []
        self.model.induct(parcel_id, codes, arrive_at)
        self.wake()

    def subscriptions(self) -> list[tuple[str, int]]:
        return [(self.commands_topic, 1)]

    async def on_connected(self, link: Link) -> None:
        await self._emit(self.model.chute_statuses(self.clock.now()), link)

    async def on_message(self, topic: str, payload: Any, link: Link) -> None:
        outputs = self.model.handle_command(payload, self.clock.now(), self.clock.wall())
        await self._emit(outputs, link)

    async def on_tick(self, link: Link) -> float | None:
        await self._emit(self.model.advance(self.clock.now(), self.clock.wall()), link)
        sim_due, wall_due = self.model.next_due()
        return min_delay(
            None if sim_due is None else self.clock.wall_delay(sim_due),
            None if wall_due is None else max(0.0, wall_due - self.clock.wall()),
        )

    async def _emit(self, outputs: list[Output], link: Link) -> None:
        for output in outputs:
            if isinstance(output, SorterEvent):
                payload = {**output.payload, "ts": iso_ms(self.clock.utc_at(output.at))}
                await link.publish(self.events_topic, dumps(payload), qos=1)
            elif isinstance(output, ParcelInChute):
                parcel = self.world.parcels.get(output.parcel_id)
                if parcel is not None:
                    parcel.location = f"chute:{output.chute}"
            elif isinstance(output, ParcelToDoor):
                self.to_door(output.parcel_id, output.door_id, output.arrive_at)
            elif isinstance(output, Ignored):
                log.info("%s: %s", self.client_id, output.reason)
