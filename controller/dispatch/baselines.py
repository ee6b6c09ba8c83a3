"""The dispatchers `MinCostDispatcher` is measured against, with the same interface.

Both take the waiting tasks in creation order and give each, one tote per trip, to one
free AGV; they differ only in which:

- `DistanceBlindGreedy` (openTCS's default): the first free AGV in a fixed order (by id),
  however far away it is;
- `NearestIdleGreedy`: the free AGV nearest to the task's pickup.

So that batteries do not make the comparison unfair, both charge exactly as
`MinCostDispatcher` does (charging.py) and never give an AGV a trip it could not finish and
still reach a charger (cost.py's feasibility rule). Neither parks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from controller.dispatch.charging import ChargerBook
from controller.dispatch.decisions import Decisions, TripAssignment
from controller.dispatch.dispatcher import require_unique_ids
from controller.dispatch.fleet import Workers, can_work
from controller.dispatch.geometry import between
from controller.dispatch.policy import DispatchPolicy
from controller.dispatch.ports import DistanceTables
from controller.dispatch.snapshots import AgvSnapshot, PickTask
from controller.dispatch.tasks import TaskArrays


class _OneToteGreedy:
    def __init__(self, tables: DistanceTables, policy: DispatchPolicy | None = None) -> None:
        self.policy = policy or DispatchPolicy()
        self._tables = tables
        self._chargers = ChargerBook(self.policy, tables)

    def decide(
        self, agvs: Sequence[AgvSnapshot], tasks: Sequence[PickTask], now_s: float
    ) -> Decisions:
        del now_s  # creation order is all these dispatchers look at
        require_unique_ids(agvs, tasks)
        charge = self._chargers.plan(agvs)
        free_agvs = sorted(
            (
                agv
                for agv in agvs
                if can_work(agv, self.policy) and not self._chargers.heading_to_charge(agv.id)
            ),
            key=lambda agv: agv.id,
        )
        in_order = sorted(tasks, key=lambda task: (task.created_s, task.id))
        return Decisions(trips=tuple(self._trips(free_agvs, in_order)), charge=tuple(charge))

    def _trips(
        self, agvs: Sequence[AgvSnapshot], tasks: Sequence[PickTask]
    ) -> list[TripAssignment]:
        if not agvs:
            return []
        workers = Workers.of(agvs, self.policy)
        free = np.ones(len(workers), dtype=bool)
        trips = []
        start = 0
        # Distances are fetched for as many tasks as there are free AGVs, then for the next
        # ones if some AGVs could take none of those (their battery would not do).
        while free.any() and start < len(tasks):
            chunk = TaskArrays.of(tasks[start : start + int(free.sum())])
            start += len(chunk)
            distinct, row_of = np.unique(chunk.pickup, return_inverse=True)
            approach = between(self._tables, distinct, workers.nodes)[row_of.reshape(-1)]
            to_station = between(self._tables, chunk.stations, chunk.pickup)
            carry = to_station[chunk.station_index, np.arange(len(chunk))]
            home = self._chargers.home(chunk.stations)[chunk.station_index]
            feasible = approach + (carry + home)[:, None] <= workers.range_m[None, :]
            for k, task in enumerate(chunk.tasks):
                usable = feasible[k] & free
                if not usable.any():
                    continue
                chosen = self._choose(approach[k], usable)
                free[chosen] = False
                trips.append(
                    TripAssignment(agvs[chosen].id, (task.id,), (task.pickup, task.dropoff))
                )
                if not free.any():
                    break
        return trips

    def _choose(self, approach_m: np.ndarray, usable: np.ndarray) -> int:
        raise NotImplementedError


class DistanceBlindGreedy(_OneToteGreedy):
    """Each task, in creation order, to the first free AGV by id, however far."""

    def _choose(self, approach_m: np.ndarray, usable: np.ndarray) -> int:
        return int(np.argmax(usable))


class NearestIdleGreedy(_OneToteGreedy):
    """Each task, in creation order, to the free AGV nearest its pickup (ties: lowest id)."""

    def _choose(self, approach_m: np.ndarray, usable: np.ndarray) -> int:
        return int(np.argmin(np.where(usable, approach_m, np.inf)))
