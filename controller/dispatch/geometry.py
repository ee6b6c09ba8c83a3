"""The distances a tick's decisions are built from, looked up on the floor each tick.

Direction matters (a floor may have one-way aisles): `between(tables, goals, nodes)[g, n]`
is the distance from nodes[n] to goals[g].
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

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
    pickups: np.ndarray  # [U]: the distinct pickup nodes
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

    @cached_property
    def between_pickups(self) -> np.ndarray:
        """[K, K]: [u, v] is pickup u → pickup v. Only multi-tote trips need it, and it is
        as large a lookup as `approach`: fetched when first asked for."""
        to_pickups = between(self.tables, self.pickups, self.pickups)  # [a, b]: b → a
        pairs: np.ndarray = to_pickups[np.ix_(self.row_of, self.row_of)].T
        return pairs
