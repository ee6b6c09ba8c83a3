"""What the dispatcher needs from the floor, and what it offers the simulation and the edge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from controller.dispatch.decisions import Decisions
from controller.dispatch.snapshots import AgvSnapshot, PickTask


class DistanceTables(Protocol):
    """Shortest-path distances over the compiled floor (controller/traffic/floor.py).

    What MinCostDispatcher asks for: each tick, one call for the distinct pickups of its
    candidate tasks (the K most urgent, and as many more as the free AGVs have spare room;
    of each row it reads the AGVs' and the candidates' columns only); once per dispatcher,
    the rows of the stations, chargers and parking nodes (kept); and, in a tick that parks
    AGVs, one call for at most `demand_points` recent pickups.
    """

    def distance_rows(self, goals: Sequence[int]) -> np.ndarray:
        """float32 [len(goals), n_nodes]: metres from every node to each goal; inf where
        unreachable. Row g, column n is the distance from n to goals[g]."""
        ...


class Dispatcher(Protocol):
    def decide(
        self, agvs: Sequence[AgvSnapshot], tasks: Sequence[PickTask], now_s: float
    ) -> Decisions:
        """This tick's decisions for `agvs`, given the `tasks` still waiting for an AGV."""
        ...
