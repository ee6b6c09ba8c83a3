"""A tick's trips: the candidate tasks, their costs, the assignment, then more totes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from controller.dispatch.assignment import by_urgency, candidate_count, min_cost_pairs
from controller.dispatch.batching import Trip, extend_trips, start_trips
from controller.dispatch.cost import pair_costs, task_credit
from controller.dispatch.decisions import TripAssignment
from controller.dispatch.fleet import Workers
from controller.dispatch.geometry import TripGeometry, between
from controller.dispatch.policy import DispatchPolicy
from controller.dispatch.ports import DistanceTables
from controller.dispatch.snapshots import AgvSnapshot, PickTask
from controller.dispatch.tasks import TaskArrays


@dataclass(frozen=True)
class Assignment:
    """The single-tote assignment of one tick: worker `rows[k]` takes candidate `cols[k]`.
    The candidates are the K most urgent tasks, then (for more totes per trip) as many
    more as the workers have spare room, most urgent first."""

    workers: Workers
    candidates: TaskArrays
    geometry: TripGeometry
    cost: np.ndarray  # [workers, K]: what the solver saw; +inf where infeasible
    rows: np.ndarray
    cols: np.ndarray


class TripPlanner:
    def __init__(
        self,
        tables: DistanceTables,
        home: Callable[[np.ndarray], np.ndarray],
        policy: DispatchPolicy,
    ) -> None:
        """`home(nodes)`: metres from each node to its nearest charger."""
        self._tables = tables
        self._home = home
        self._policy = policy

    def assign(
        self, agvs: Sequence[AgvSnapshot], tasks: Sequence[PickTask], now_s: float
    ) -> Assignment:
        """The min-cost assignment of `agvs` (all able to work) to the K most urgent tasks."""
        policy = self._policy
        workers = Workers.of(agvs, policy)
        waiting = TaskArrays.of(tasks)
        to_station = between(self._tables, waiting.stations, waiting.pickup).T  # [T, S]
        carry = to_station[np.arange(len(waiting)), waiting.station_index]
        credit = task_credit(waiting, carry, now_s, workers.reference_speed(), policy)
        assignable = candidate_count(len(workers), len(waiting), policy)
        spare_room = int(np.maximum(workers.free_capacity - 1, 0).sum())
        chosen = by_urgency(credit, min(len(waiting), assignable + spare_room))
        candidates = waiting.subset(chosen)
        geometry = TripGeometry.measure(
            self._tables,
            workers,
            candidates,
            to_station[chosen],
            self._home(waiting.stations),
        )
        cost = pair_costs(workers, candidates, geometry, credit[chosen], now_s, policy)
        cost = cost[:, :assignable]
        rows, cols = min_cost_pairs(cost)
        return Assignment(workers, candidates, geometry, cost, rows, cols)

    def plan(
        self, agvs: Sequence[AgvSnapshot], tasks: Sequence[PickTask], now_s: float
    ) -> list[TripAssignment]:
        """The assignment, each trip then filled with more totes (batching.py)."""
        if not agvs or not tasks:
            return []
        done = self.assign(agvs, tasks, now_s)
        waiting = np.ones(len(done.candidates), dtype=bool)
        waiting[done.cols] = False
        if not waiting.any() or (done.workers.free_capacity[done.rows] < 2).all():
            return _single_tote_trips(done)  # nothing can join a trip: 500 fewer objects
        trips = start_trips(
            done.workers, done.candidates, done.geometry, done.rows, done.cols, now_s
        )
        extend_trips(
            trips, waiting, done.workers, done.candidates, done.geometry, now_s, self._policy
        )
        return _trip_assignments(trips, done)


def _single_tote_trips(done: Assignment) -> list[TripAssignment]:
    """What `_trip_assignments` gives when no trip grew, straight from the assignment."""
    agv_ids = [agv.id for agv in done.workers.agvs]
    task_ids = [task.id for task in done.candidates.tasks]
    pickups = done.candidates.pickup.tolist()
    stations = done.candidates.stations[done.candidates.station_index].tolist()
    return [
        TripAssignment(agv_ids[row], (task_ids[col],), (pickups[col], stations[col]))
        for row, col in zip(done.rows.tolist(), done.cols.tolist(), strict=True)
    ]


def _trip_assignments(trips: list[Trip], done: Assignment) -> list[TripAssignment]:
    agv_ids = [agv.id for agv in done.workers.agvs]
    task_ids = [task.id for task in done.candidates.tasks]
    pickups = done.candidates.pickup.tolist()
    stations = done.candidates.stations.tolist()
    return [
        TripAssignment(
            agv_id=agv_ids[trip.worker],
            task_ids=tuple(task_ids[task] for task in trip.tasks),
            stops=(*(pickups[task] for task in trip.tasks), *(stations[s] for s in trip.stations)),
        )
        for trip in trips
    ]
