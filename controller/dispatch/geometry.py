"""The distances a tick's decisions are built from, looked up on the floor each tick.

Direction matters (a floor may have one-way aisles): `between(tables, goals, nodes)[g, n]`
is the distance from nodes[n] to goals[g].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controller.dispatch.fleet import Workers
from controller.dispatch.ports import DistanceTables
from controller.dispatch.tasks import TaskArrays


def between(tables: DistanceTables, goals: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """float64 [len(goals), len(nodes)]: metres from each of `nodes` to each of `goals`.
    Asked of the floor each time, never kept: its tables follow every closed or opened
    edge, and a kept copy would send totes to a station nobody can reach any more."""
    return tables.distances(goals.tolist(), nodes).astype(np.float64)


@dataclass(frozen=True)
class TripGeometry:
    """Distances (metres) among the tick's workers, candidate tasks and their stations."""

    approach: np.ndarray  # [workers, K]: AGV → pickup
    carry: np.ndarray  # [K]: pickup → its own station
    pickup_to_station: np.ndarray  # [K, S]
    station_to_station: np.ndarray  # [S, S]: [s, t] is s → t
    home: np.ndarray  # [S]: station → nearest charger (0 where the site has none)
    pickups: np.ndarray  # [U]: the distinct pickup nodes (`legs_touching` looks them up)
    row_of: np.ndarray  # [K]: each task's index in `pickups`
    tables: DistanceTables

    @classmethod
    def measure(
        cls,
        tables: DistanceTables,
        workers: Workers,
        tasks: TaskArrays,
        pickup_to_station: np.ndarray,
        home: np.ndarray,
    ) -> TripGeometry:
        """`pickup_to_station` [K, S] and `home` [S] were measured already for choosing the
        candidates; this adds the AGVs' drives to the candidates' pickups."""
        distinct, row_of = np.unique(tasks.pickup, return_inverse=True)
        row_of = row_of.reshape(-1)
        return cls(
            # [workers, K] in row order: the cost matrix is built from it in several passes.
            approach=between(tables, distinct, workers.nodes).T[:, row_of],
            carry=pickup_to_station[np.arange(len(tasks)), tasks.station_index],
            pickup_to_station=pickup_to_station,
            station_to_station=between(tables, tasks.stations, tasks.stations).T,
            home=home,
            pickups=distinct,
            row_of=row_of,
            tables=tables,
        )

    def legs_touching(self, tasks: np.ndarray) -> np.ndarray:
        """[K, K]: [u, v] is pickup u → pickup v where u or v is one of `tasks`; inf
        elsewhere. Trips grow only by the tasks still waiting when they start to grow, so
        every leg they weigh has one of those at an end (batching.py): only those legs are
        looked up, a few entries of each table instead of K."""
        legs = np.full((len(self.row_of), len(self.row_of)), np.inf)
        if len(tasks) == 0:
            return legs
        ends = np.unique(self.row_of[tasks])  # indices into `pickups`
        at = np.searchsorted(ends, self.row_of[tasks])
        to_ends = between(self.tables, self.pickups[ends], self.pickups)  # [e, b]: b → e
        from_ends = between(self.tables, self.pickups, self.pickups[ends])  # [a, e]: e → a
        legs[:, tasks] = to_ends[at][:, self.row_of].T
        legs[tasks, :] = from_ends[self.row_of][:, at].T
        return legs
