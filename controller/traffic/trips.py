"""An AGV's trip: the stops it still has to visit, and what it does at each.

A trip comes from a dispatch decision (a multi-tote pick round, a charge, a park) and is
worked off stop by stop: the AGV's goal is always its current stop's node, and the stop
ends when the world says the work there is done (VDA 5050: its action FINISHED). A park
stop has no work: it is where an idle AGV waits, so it stays its goal until a new trip
replaces it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class StopKind(StrEnum):
    """What the AGV does at a stop; the values are the VDA 5050 action types."""

    PICK = "pick"  # take a tote from the rack face
    DROP = "drop"  # hand a tote over at the station
    CHARGE = "startCharging"
    PARK = "park"  # no action: wait there

    @property
    def works(self) -> bool:
        """An AGV arriving at such a stop stands still until the world reports it done."""
        return self is not StopKind.PARK


@dataclass(frozen=True, slots=True)
class Stop:
    node: int
    kind: StopKind
    task_ids: tuple[str, ...] = ()  # the totes picked or dropped here


@dataclass(slots=True)
class Trip:
    """The stops left, in order."""

    stops: list[Stop]

    @property
    def stop(self) -> Stop | None:
        return self.stops[0] if self.stops else None

    @property
    def parked(self) -> bool:
        return len(self.stops) == 1 and self.stops[0].kind is StopKind.PARK

    def task_ids(self) -> tuple[str, ...]:
        """The tasks still to pick or drop on this trip, each once."""
        return tuple(dict.fromkeys(t for stop in self.stops for t in stop.task_ids))

    def unpicked(self) -> tuple[str, ...]:
        """Tasks whose pick is still ahead: nobody has their tote yet."""
        return tuple(t for stop in self.stops if stop.kind is StopKind.PICK for t in stop.task_ids)

    def finish_stop(self) -> Stop:
        """The current stop is done: the next one becomes current."""
        return self.stops.pop(0)

    def drop_only(self) -> None:
        """Forget the picks still ahead (their tasks went back to the pool): only the drops
        of totes already on board remain."""
        unpicked = set(self.unpicked())
        kept: list[Stop] = []
        for stop in self.stops:
            if stop.kind is StopKind.PICK:
                continue
            if stop.kind is StopKind.DROP:
                stop = Stop(
                    stop.node, stop.kind, tuple(t for t in stop.task_ids if t not in unpicked)
                )
                if not stop.task_ids:
                    continue
            kept.append(stop)
        self.stops = kept


def trip_of(stops: Sequence[int], task_ids: Sequence[str], dropoff: Mapping[str, int]) -> Trip:
    """A dispatched trip (controller/dispatch `TripAssignment`): its stops are the pickups,
    one per task in `task_ids` order, then the stations in visiting order; each tote is
    dropped at the first visit of its station (`dropoff[task_id]`)."""
    pickups, stations = stops[: len(task_ids)], stops[len(task_ids) :]
    trip = [Stop(node, StopKind.PICK, (t,)) for node, t in zip(pickups, task_ids, strict=True)]
    left = list(task_ids)
    for station in stations:
        here = tuple(t for t in left if dropoff[t] == station)
        if here:
            trip.append(Stop(station, StopKind.DROP, here))
            left = [t for t in left if t not in here]
    if left:
        raise ValueError(f"the trip visits no station for {left}")
    return Trip(trip)
