"""What the dispatcher decides in one tick: trips, charging and parking moves."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TripAssignment:
    """Fetch `task_ids` (in pickup order) and drop each at its station: `stops` are the
    pickups in that order, then the stations in the order they are visited."""

    agv_id: str
    task_ids: tuple[str, ...]
    stops: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SendToCharge:
    """Go to `charger` and charge. Sent to an AGV on its way to a pickup, it cancels that trip:
    the caller puts the trip's tasks back in the queue."""

    agv_id: str
    charger: int


@dataclass(frozen=True, slots=True)
class SendToPark:
    agv_id: str
    node: int


@dataclass(frozen=True, slots=True)
class Decisions:
    """At most one decision per AGV; each task in at most one trip."""

    trips: tuple[TripAssignment, ...] = ()
    charge: tuple[SendToCharge, ...] = ()
    park: tuple[SendToPark, ...] = ()

    def assigned_task_ids(self) -> list[str]:
        return [task_id for trip in self.trips for task_id in trip.task_ids]
