"""A generated warehouse floor for the dispatch benchmarks, with scipy distances.

Rack blocks two cells deep between two-cell aisles, cross aisles every `block_cols` columns,
stations along the bottom wall, chargers and parking along the top. Only free cells are
nodes (1 m apart, both ways); rack faces are the aisle cells beside a rack. It stands in
for the compiled floor (controller/traffic/floor.py), which the dispatcher reaches only
through `distances`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

RACK_DEPTH = 2
AISLE_WIDTH = 2
BORDER = 3  # free rows/columns around the racks: stations, chargers, parking, turning


@dataclass
class WarehouseFloor:
    width: int
    height: int
    node_of_cell: np.ndarray  # [height, width]: node number, -1 for a rack cell
    graph: csr_matrix
    rack_faces: np.ndarray
    stations: np.ndarray
    chargers: np.ndarray
    parking: np.ndarray

    @property
    def nodes(self) -> int:
        return int(self.graph.shape[0])

    @classmethod
    def generate(cls, width: int, height: int, block_cols: int = 24) -> WarehouseFloor:
        rack = np.zeros((height, width), dtype=bool)
        period = RACK_DEPTH + AISLE_WIDTH
        for y in range(BORDER, height - BORDER):
            if (y - BORDER) % period < RACK_DEPTH:
                rack[y, BORDER : width - BORDER] = True
        for x in range(BORDER, width - BORDER, block_cols + AISLE_WIDTH):
            rack[:, x : x + AISLE_WIDTH] = False  # cross aisle
        node_of_cell = np.full((height, width), -1, dtype=np.int64)
        free = ~rack
        node_of_cell[free] = np.arange(int(free.sum()))
        rows, cols = [], []
        for dy, dx in ((0, 1), (1, 0)):
            a = node_of_cell[: height - dy, : width - dx]
            b = node_of_cell[dy:, dx:]
            both = (a >= 0) & (b >= 0)
            rows.append(a[both])
            cols.append(b[both])
        src, dst = np.concatenate(rows), np.concatenate(cols)
        n = int(free.sum())
        graph = csr_matrix((np.ones(len(src) * 2), (np.r_[src, dst], np.r_[dst, src])), (n, n))

        beside_rack = np.zeros_like(rack)
        beside_rack[1:] |= rack[:-1]
        beside_rack[:-1] |= rack[1:]
        rack_faces = node_of_cell[free & beside_rack]
        xs = np.linspace(BORDER, width - BORDER - 1, 20).astype(int)
        stations = node_of_cell[height - 1, xs]
        top = np.linspace(BORDER, width - BORDER - 1, 60).astype(int)
        chargers = node_of_cell[0, top[::3]]
        parking = node_of_cell[1, top]
        return cls(width, height, node_of_cell, graph, rack_faces, stations, chargers, parking)


class PrecomputedTables:
    """`DistanceTables` over a floor: the tables of every goal the run will ask for,
    computed up front, each its own array as in the compiled floor; `distances` reads the
    asked-for entries of each as `CompiledFloor.distances` does."""

    def __init__(self, floor: WarehouseFloor, goals: np.ndarray) -> None:
        goals = np.unique(goals)
        started = time.perf_counter()
        self.tables: dict[int, np.ndarray] = {}
        for start in range(0, len(goals), 64):  # batches: float64 results for all are GBs
            chunk = goals[start : start + 64]
            rows = dijkstra(floor.graph, directed=False, indices=chunk).astype(np.float32)
            self.tables.update(zip(chunk.tolist(), list(rows), strict=True))
        self.build_s = time.perf_counter() - started
        self.calls_s = 0.0  # time spent in distances, for the benchmark to subtract

    def distances(self, goals: Sequence[int], nodes: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        at = np.asarray(nodes, dtype=np.intp).reshape(-1)
        out = np.empty((len(goals), at.size), dtype=np.float32)
        for k, goal in enumerate(goals):
            out[k] = self.tables[goal][at]
        self.calls_s += time.perf_counter() - started
        return out
