"""What the dispatcher needs from the floor, and what it offers the simulation and the edge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from controller.dispatch.decisions import Decisions
from controller.dispatch.snapshots import AgvSnapshot, PickTask


class DistanceTables(Protocol):
    """Shortest-path distances over the compiled floor (controller/traffic/floor.py).

    What the dispatcher asks for, each tick: the distances from the free AGVs and the
    candidate tasks' pickups to those pickups; from the pickups to their stations and
    between stations; from stations to chargers; and, in a tick that parks AGVs, from the
    free parking nodes to at most `demand_points` recent pickups. It keeps none of them:
    the floor's tables follow every closed or opened edge, a copy would not.
    """

    def distances(self, goals: Sequence[int], nodes: np.ndarray) -> np.ndarray:
        """float32 [len(goals), len(nodes)]: row k, column m is the distance in metres from
        nodes[m] to goals[k]; inf where unreachable."""
        ...


class Dispatcher(Protocol):
    def decide(
        self, agvs: Sequence[AgvSnapshot], tasks: Sequence[PickTask], now_s: float
    ) -> Decisions:
        """This tick's decisions for `agvs`, given the `tasks` still waiting for an AGV."""
        ...
