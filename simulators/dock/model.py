"""A dock door as a pure model: parcels come off the carrier chute's conveyor, pass the
door's RFID gate into the truck, and the truck leaves `depart_after_s` after the first
parcel it took since the previous truck left; the next truck docks at once.

A parcel arriving while the truck is about to leave (its gate pass would end less than
`closing_guard_s` before departure) waits at the door for the next truck, so that every
read of a parcel comes before the `truckDeparted` that ships it.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Any

from simulators.rfid_gate.model import TagRead, pass_reads


@dataclass(frozen=True)
class DockDurations:
    """Sim seconds."""

    gate_pass_s: float = 1.0
    depart_after_s: float = 30.0
    closing_guard_s: float = 2.0


DOOR_RSSI_DBM = -50.0
DOOR_RSSI_SPREAD_DB = 8.0
DOOR_READS_PER_TAG = (3, 6)


@dataclass(frozen=True)
class DoorEvent:
    payload: dict[str, Any]  # without "ts"
    at: float


@dataclass(frozen=True)
class DoorReads:
    reads: tuple[TagRead, ...]


@dataclass(frozen=True)
class ParcelLoaded:
    parcel_id: str
    truck: int


@dataclass(frozen=True)
class TruckDeparted:
    truck: int
    parcel_ids: tuple[str, ...]


Output = DoorEvent | DoorReads | ParcelLoaded | TruckDeparted


@dataclass(order=True)
class _Timed:
    at: float
    seq: int
    kind: str = field(compare=False)  # arrive | depart
    parcel_id: str = field(compare=False, default="")
    epc: str | None = field(compare=False, default=None)


class DockDoorModel:
    def __init__(
        self, *, door_id: str, rng: random.Random, durations: DockDurations | None = None
    ) -> None:
        self.door_id = door_id
        self.rng = rng
        self.durations = durations or DockDurations()
        self.truck = 1
        self.loaded: list[str] = []
        self.departure_at: float | None = None
        self._held: list[tuple[str, str | None]] = []
        self._timeline: list[_Timed] = []
        self._seq = 0

    def receive(self, parcel_id: str, epc: str | None, arrive_at: float) -> None:
        self._push(_Timed(arrive_at, 0, "arrive", parcel_id, epc))

    def next_due(self) -> float | None:
        return self._timeline[0].at if self._timeline else None

    def advance(self, now: float) -> list[Output]:
        outputs: list[Output] = []
        while self._timeline and self._timeline[0].at <= now:
            timed = heapq.heappop(self._timeline)
            if timed.kind == "arrive":
                outputs.extend(self._arrive(timed))
            else:
                outputs.extend(self._depart(timed.at))
        return outputs

    def _push(self, timed: _Timed) -> None:
        self._seq += 1
        timed.seq = self._seq
        heapq.heappush(self._timeline, timed)

    def _arrive(self, timed: _Timed) -> list[Output]:
        d = self.durations
        loaded_at = timed.at + d.gate_pass_s
        if self.departure_at is not None and loaded_at + d.closing_guard_s > self.departure_at:
            self._held.append((timed.parcel_id, timed.epc))
            return []
        outputs: list[Output] = []
        if timed.epc is not None:
            reads = pass_reads(
                self.rng,
                [timed.epc],
                start=timed.at,
                span_s=d.gate_pass_s,
                reads_per_tag=DOOR_READS_PER_TAG,
                rssi_dbm=DOOR_RSSI_DBM,
                spread_db=DOOR_RSSI_SPREAD_DB,
            )
            outputs.append(DoorReads(tuple(reads)))
        self.loaded.append(timed.parcel_id)
        outputs.append(ParcelLoaded(timed.parcel_id, self.truck))
        if self.departure_at is None:
            self.departure_at = loaded_at + d.depart_after_s
            self._push(_Timed(self.departure_at, 0, "depart"))
        return outputs

    def _depart(self, at: float) -> list[Output]:
        outputs: list[Output] = [
            DoorEvent({"event": "truckDeparted", "doorId": self.door_id}, at),
            TruckDeparted(self.truck, tuple(self.loaded)),
        ]
        self.truck += 1
        self.loaded = []
        self.departure_at = None
        held, self._held = self._held, []
        for parcel_id, epc in held:  # carried into the new truck
            self._push(_Timed(at, 0, "arrive", parcel_id, epc))
        return outputs
