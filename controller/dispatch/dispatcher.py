"""The fleet's dispatcher: min-cost trips of several totes, charging, parking near demand.

State: the snapshots say where each AGV is and what it is doing, but not where it is going.
So the dispatcher keeps only what it alone knows: which AGVs it sent to a charger or a
parking node that are still on their way (claims, dropped as soon as the snapshots show
the outcome), and where recent demand was (tasks vanish from the input once assigned).
Distances are looked up on the floor each tick, never kept. Everything else is recomputed from the
snapshots each tick, so a restarted dispatcher or a reordered fleet list changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from controller.dispatch.charging import ChargerBook
from controller.dispatch.decisions import Decisions
from controller.dispatch.fleet import can_work, idle
from controller.dispatch.parking import DemandMemory, ParkingBook
from controller.dispatch.policy import DispatchPolicy
from controller.dispatch.ports import DistanceTables
from controller.dispatch.snapshots import AgvSnapshot, PickTask
from controller.dispatch.trips import TripPlanner


class MinCostDispatcher:
    """Each tick: chargers for the AGVs that need one; a min-cost assignment of the others
    to the most urgent tasks, each trip then given more totes on cheap detours; parking
    near demand for whoever is left idle."""

    def __init__(self, tables: DistanceTables, policy: DispatchPolicy | None = None) -> None:
        self.policy = policy or DispatchPolicy()
        self._chargers = ChargerBook(self.policy, tables)
        self._parking = ParkingBook(self.policy, tables)
        self._demand = DemandMemory(self.policy)
        self.planner = TripPlanner(tables, self._chargers.home, self.policy)

    def decide(
        self, agvs: Sequence[AgvSnapshot], tasks: Sequence[PickTask], now_s: float
    ) -> Decisions:
        require_unique_ids(agvs, tasks)
        self._demand.observe(tasks, now_s)
        self._parking.forget_departed(agvs)

        charge = self._chargers.plan(agvs)
        workers = [
            agv
            for agv in agvs
            if can_work(agv, self.policy) and not self._chargers.heading_to_charge(agv.id)
        ]
        trips = self.planner.plan(workers, tasks, now_s)
        for agv_id in [*(order.agv_id for order in charge), *(trip.agv_id for trip in trips)]:
            self._parking.release(agv_id)

        given = {trip.agv_id for trip in trips}
        unoccupied = [
            agv
            for agv in agvs
            if idle(agv) and agv.id not in given and not self._chargers.heading_to_charge(agv.id)
        ]
        park = self._parking.plan(unoccupied, self._demand.recent_pickups(now_s))
        return Decisions(trips=tuple(trips), charge=tuple(charge), park=tuple(park))


def require_unique_ids(agvs: Sequence[AgvSnapshot], tasks: Sequence[PickTask]) -> None:
    """Strict inside: a repeated id is the caller's bug, and would assign a task twice."""
    if len({agv.id for agv in agvs}) != len(agvs):
        raise ValueError("AGV ids repeat in one tick's snapshots")
    if len({task.id for task in tasks}) != len(tasks):
        raise ValueError("task ids repeat in one tick's snapshots")
