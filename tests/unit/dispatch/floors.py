"""Small floors for the dispatcher's tests, with distances from scipy's Dijkstra."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from controller.dispatch import AgvSnapshot, PickTask


class GridFloor:
    """A width x height grid of `cell_m` cells, 4-connected both ways; node = y * width + x."""

    def __init__(
        self, width: int, height: int = 1, blocked: Iterable[int] = (), cell_m: float = 1.0
    ) -> None:
        self.width, self.height = width, height
        blocked_nodes = set(blocked)
        rows, cols = [], []
        for y in range(height):
            for x in range(width):
                here = self.node(x, y)
                for nx, ny in ((x + 1, y), (x, y + 1)):
                    if nx < width and ny < height:
                        there = self.node(nx, ny)
                        if here not in blocked_nodes and there not in blocked_nodes:
                            rows.append(here)
                            cols.append(there)
        n = width * height
        weights = np.full(len(rows), cell_m)
        self.graph = csr_matrix((weights, (rows, cols)), shape=(n, n))

    def node(self, x: int, y: int = 0) -> int:
        return y * self.width + x

    def distances(self, goals: Sequence[int], nodes: np.ndarray) -> np.ndarray:
        rows = dijkstra(self.graph, directed=False, indices=list(goals)).astype(np.float32)
        return rows[:, np.asarray(nodes, dtype=np.int64)].reshape(len(goals), -1)


class DirectedFloor:
    """A random strongly connected one-way floor: a ring plus random chords."""

    def __init__(self, nodes: int, chords: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        rows = list(range(nodes)) + rng.integers(0, nodes, chords).tolist()
        cols = [(i + 1) % nodes for i in range(nodes)] + rng.integers(0, nodes, chords).tolist()
        weights = rng.uniform(1.0, 10.0, len(rows))
        self.graph = csr_matrix((weights, (rows, cols)), shape=(nodes, nodes))
        # [a, b]: distance from a to b.
        self.all_pairs = dijkstra(self.graph, directed=True)

    def distances(self, goals: Sequence[int], nodes: np.ndarray) -> np.ndarray:
        at = np.asarray(nodes, dtype=np.int64)
        return self.all_pairs[np.ix_(at, list(goals))].T.astype(np.float32)


def agv(
    agv_id: str,
    node: int,
    *,
    battery: float = 100.0,
    capacity: int = 1,
    carrying: int = 0,
    available: bool = True,
    charging: bool = False,
    speed: float = 1.0,
) -> AgvSnapshot:
    return AgvSnapshot(agv_id, node, battery, capacity, carrying, available, charging, speed)


def task(
    task_id: str,
    pickup: int,
    dropoff: int,
    *,
    created: float = 0.0,
    due: float | None = None,
    priority: int = 0,
) -> PickTask:
    return PickTask(task_id, pickup, dropoff, created, due, priority)
