"""One simulated site: every device of a site file on one broker, sharing one physical world.

`run_site` is the entry point; `SimSite` is the same thing with its parts exposed (for
tests and for a progress display).
"""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path

from simulators.agv.device import AgvDevice
from simulators.common.clock import SimClock
from simulators.common.config import SiteConfig, SiteMap, load_site
from simulators.common.device import DeviceShell
from simulators.common.world import World
from simulators.dock.device import DockDoorDevice
from simulators.rfid_gate.device import RfidReaderDevice
from simulators.sorter.device import SorterDevice
from simulators.station.device import StationDevice

log = logging.getLogger(__name__)


def device_rng(seed: int, *name: str) -> random.Random:
    """A generator of its own per device, stable for a seed (string seeds hash with SHA-512)."""
    return random.Random(":".join([str(seed), *name]))


class SimSite:
    def __init__(
        self,
        site: SiteConfig,
        *,
        mqtt_host: str,
        mqtt_port: int,
        speedup: float = 10.0,
        seed: int = 1,
        short_pick_probability: float = 0.0,
    ) -> None:
        self.site = site
        self.clock = SimClock(speedup)
        self.world = World.from_site(site)
        conn = {"host": mqtt_host, "port": mqtt_port, "clock": self.clock}
        self.readers = {
            r.id: RfidReaderDevice(
                config=r,
                site=site.site,
                topic=site.reader_topic(r.id),
                rng=device_rng(seed, "rfid", r.id),
                **conn,
            )
            for r in site.rfid_readers
        }
        self.doors = {
            d.id: DockDoorDevice(
                config=d,
                site=site.site,
                world=self.world,
                gate=self.readers[d.rfid_reader],
                rng=device_rng(seed, "dock", d.id),
                **conn,
            )
            for d in site.dock_doors
        }
        self.sorter = (
            SorterDevice(site=site, world=self.world, to_door=self._to_door, **conn)
            if site.sorter is not None
            else None
        )
        prefix_len = len(site.gs1.company_prefix)
        self.stations = {
            s.id: StationDevice(
                config=s,
                site=site.site,
                world=self.world,
                gate=self.readers[s.rfid_reader],
                to_sorter=self._to_sorter,
                company_prefix_len=prefix_len,
                rng=device_rng(seed, "station", s.id),
                short_pick_probability=short_pick_probability,
                **conn,
            )
            for s in site.stations
        }
        site_map = SiteMap(site)
        self.agvs = {
            a.serial_number: AgvDevice(
                config=a,
                site_map=site_map,
                world=self.world,
                rng=device_rng(seed, "agv", a.manufacturer, a.serial_number),
                **conn,
            )
            for a in site.agvs
        }

    @property
    def devices(self) -> list[DeviceShell]:
        sorter: list[DeviceShell] = [self.sorter] if self.sorter else []
        return [
            *self.agvs.values(),
            *self.stations.values(),
            *self.readers.values(),
            *sorter,
            *self.doors.values(),
        ]

    def _to_sorter(self, parcel_id: str, arrive_at: float) -> None:
        if self.sorter is None:
            log.warning("parcel %s has no sorter to go to", parcel_id)
            return
        self.sorter.induct(parcel_id, arrive_at)

    def _to_door(self, parcel_id: str, door_id: str, arrive_at: float) -> None:
        self.doors[door_id].receive(parcel_id, arrive_at)

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            for device in self.devices:
                group.create_task(device.run(stop), name=device.client_id)


async def run_site(
    *,
    site_config: Path,
    mqtt_host: str,
    mqtt_port: int,
    speedup: float = 10.0,
    seed: int = 1,
    stop: asyncio.Event | None = None,
) -> None:
    """Run every device of the site (AGVs, stations with their RFID gates, sorter, dock doors
    with their gates) until `stop` is set or the task is cancelled; disconnect cleanly (AGVs
    publish connection OFFLINE on a clean stop)."""
    site = load_site(site_config)
    sim = SimSite(site, mqtt_host=mqtt_host, mqtt_port=mqtt_port, speedup=speedup, seed=seed)
    await sim.run(stop if stop is not None else asyncio.Event())
