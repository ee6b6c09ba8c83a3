"""An RFID reader on the broker: its own MQTT connection, publishing what its gate reads."""

from __future__ import annotations

import random
from collections.abc import Iterable

from simulators.common.clock import SimClock
from simulators.common.config import RfidReaderConfig
from simulators.common.device import DeviceShell
from simulators.common.mqtt import Link
from simulators.rfid_gate.model import ReaderModel, TagRead


class RfidReaderDevice(DeviceShell):
    def __init__(
        self,
        *,
        config: RfidReaderConfig,
        site: str,
        topic: str,
        clock: SimClock,
        host: str,
        port: int,
        rng: random.Random,
    ) -> None:
        super().__init__(host=host, port=port, clock=clock)
        self.model = ReaderModel(reader_id=config.id, fmt=config.format, rng=rng)
        self.topic = topic
        self.client_id = f"{site}-rfid-{config.id}"
        self.published = 0

    def feed(self, reads: Iterable[TagRead]) -> None:
        """Tags that the gate will read (at their sim times)."""
        self.model.add(reads)
        self.wake()

    async def on_tick(self, link: Link) -> float | None:
        for report in self.model.advance(self.clock.now()):
            for payload in self.model.encode(report, self.clock.utc_at):
                await link.publish(self.topic, payload, qos=0)
                self.published += 1
        due = self.model.next_due()
        return None if due is None else self.clock.wall_delay(due)
