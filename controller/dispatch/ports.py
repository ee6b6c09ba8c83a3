"""What the dispatcher needs from the floor, and what it offers the simulation and the edge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from controller.dispatch.decisions import Decisions
from controller.dispatch.snapshots import AgvSnapshot, PickTask


class DistanceTables(Protocol):
    """Shortest-path distances over the compiled floor (controller/traffic/floor.py)."""

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
