"""FleetControl's record of one AGV: what it last reported, and the trip it is on."""

from __future__ import annotations

from dataclasses import dataclass

from controller.dispatch import AgvSnapshot
from controller.traffic.ids import AgvId
from controller.traffic.trips import Stop, StopKind, Trip


@dataclass(slots=True)
class Vehicle:
    id: AgvId
    capacity: int  # totes
    speed_mps: float
    node: int  # the last node it confirmed
    battery_pct: float = 100.0
    online: bool = True
    failed: bool = False
    working: bool = False  # an action running at its stop
    carrying: int = 0  # totes on board
    seen_s: float | None = None  # when it last reported
    trip: Trip | None = None
    # Bumped whenever its current stop changes (finished, replaced, cancelled): the world
    # (or the edge's action ids) tells one visit of a node from the next by it.
    stop_key: int = 0
    blocked: tuple[int, ...] = ()  # the nodes it held when it failed, blocked for the planner
    # The caller's say on new work: the edge withholds it while the AGV still runs an order
    # or carries a load it must first take home (the simulation never does).
    takes_work: bool = True

    @property
    def stop(self) -> Stop | None:
        return None if self.trip is None else self.trip.stop

    @property
    def goal(self) -> int | None:
        stop = self.stop
        return None if stop is None else stop.node

    def set_trip(self, trip: Trip | None) -> None:
        self.trip = trip if trip is not None and trip.stops else None
        self.stop_key += 1

    def frozen(self) -> bool:
        """Standing still whatever the planner says: failed, out of contact, working, or
        arrived where it is about to work."""
        if self.failed or not self.online or self.working:
            return True
        stop = self.stop
        return stop is not None and stop.kind.works and stop.node == self.node

    def charging(self) -> bool:
        """At its charger on a charge stop (the dispatcher may call it away from there)."""
        stop = self.stop
        return (
            stop is not None
            and stop.kind is StopKind.CHARGE
            and stop.node == self.node
            and self.online
            and not self.failed
        )

    def available(self) -> bool:
        """Free for a task trip: idle or parked, empty-handed, able to drive."""
        return (
            self.online
            and self.takes_work
            and not self.failed
            and not self.working
            and self.carrying == 0
            and (self.trip is None or self.trip.parked)
        )

    def dispatchable(self) -> bool:
        """Shown to the dispatcher at all: in contact and not failed."""
        return self.online and not self.failed

    def snapshot(self) -> AgvSnapshot:
        return AgvSnapshot(
            self.id,
            self.node,
            self.battery_pct,
            self.capacity,
            self.carrying,
            self.available(),
            self.charging(),
            self.speed_mps,
        )
