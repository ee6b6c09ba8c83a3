"""The distances a tick's decisions are built from, fetched from the floor once per tick.

Direction matters (a floor may have one-way aisles): a distance row for goal g holds, for
every node n, the distance from n to g.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from controller.dispatch.fleet import Workers
from controller.dispatch.ports import DistanceTables
from controller.dispatch.tasks import TaskArrays

RECURRING_GOALS_KEPT = 4096  # stations, chargers, parking: a site has far fewer


class GoalRows:
    """Rows of the goals that recur every tick (stations, chargers, parking nodes): fetched
    from the floor once, then kept. Pickups are not kept: there are too many rack faces."""

    def __init__(self, tables: DistanceTables) -> None:
        self._tables = tables
        self._rows: dict[int, np.ndarray] = {}

    def row(self, goal: int) -> np.ndarray:
        self._fetch(np.array([goal], dtype=np.int64))
        return self._rows[goal]

    def between(self, goals: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """float64 [len(goals), len(nodes)]: from each of `nodes` to each of `goals`."""
        self._fetch(goals)
        out = np.empty((len(goals), len(nodes)), dtype=np.float64)
        for i, goal in enumerate(goals.tolist()):
            out[i] = self._rows[goal][nodes]
        return out

    def nearest(self, goals: np.ndarray) -> np.ndarray:
        """float64 [n_nodes]: from every node to the nearest of `goals`."""
        self._fetch(goals)
        rows = np.stack([self._rows[goal] for goal in goals.tolist()])
        nearest: np.ndarray = rows.min(axis=0).astype(np.float64)
        return nearest

    def _fetch(self, goals: np.ndarray) -> None:
        missing = [goal for goal in dict.fromkeys(goals.tolist()) if goal not in self._rows]
        if not missing:
            return
        if len(self._rows) + len(missing) > RECURRING_GOALS_KEPT:
            self._rows.clear()  # not what it is for; start again rather than grow without end
        fetched = self._tables.distance_rows(missing)
        for goal, row in zip(missing, fetched, strict=True):
            self._rows[goal] = row


@dataclass(frozen=True)
class TripGeometry:
    """Distances (metres) among the tick's workers, candidate tasks and their stations."""

    approach: np.ndarray  # [workers, K]: AGV → pickup
    carry: np.ndarray  # [K]: pickup → its own station
    pickup_to_station: np.ndarray  # [K, S]
    station_to_station: np.ndarray  # [S, S]: [s, t] is s → t
    home: np.ndarray  # [S]: station → nearest charger (0 where the site has none)
    pickup_rows: np.ndarray  # float32 [U, n_nodes]: the distinct pickups' rows
    row_of: np.ndarray  # [K]: each task's row in `pickup_rows`
    pickup: np.ndarray  # [K]: pickup nodes

    @classmethod
    def measure(
        cls,
        tables: DistanceTables,
        goal_rows: GoalRows,
        workers: Workers,
        tasks: TaskArrays,
        pickup_to_station: np.ndarray,
        home: np.ndarray,
    ) -> TripGeometry:
        """`pickup_to_station` [K, S] and `home` [S] were measured already for choosing the
        candidates; this adds what needs the candidates' own rows."""
        distinct, row_of = np.unique(tasks.pickup, return_inverse=True)
        row_of = row_of.reshape(-1)
        rows = tables.distance_rows(distinct.tolist())
        approach = columns(rows, workers.nodes).astype(np.float64)[row_of].T
        return cls(
            approach=approach,
            carry=pickup_to_station[np.arange(len(tasks)), tasks.station_index],
            pickup_to_station=pickup_to_station,
            station_to_station=goal_rows.between(tasks.stations, tasks.stations).T,
            home=home,
            pickup_rows=rows,
            row_of=row_of,
            pickup=tasks.pickup,
        )

    @cached_property
    def between_pickups(self) -> np.ndarray:
        """[K, K]: [u, v] is pickup u → pickup v. Only multi-tote trips need it."""
        to_pickups = columns(self.pickup_rows, self.pickup).astype(np.float64)
        between: np.ndarray = to_pickups[self.row_of].T
        return between


def columns(rows: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """rows[:, nodes], gathered in ascending node order: on a large floor each row is far
    bigger than the cache, and the ordered gather is several times faster."""
    order = np.argsort(nodes, kind="stable")
    gathered = np.take(rows, nodes[order], axis=1)
    out = np.empty_like(gathered)
    out[:, order] = gathered
    return out
