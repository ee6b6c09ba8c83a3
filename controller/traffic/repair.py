"""Repairing one distance table after one edge closes or opens, touching only the nodes whose
distance changes (incremental shortest paths, after Ramalingam and Reps).

On a warehouse floor most aisles are one cell wide, so closing one aisle edge changes a
few entries of nearly every table: the cells between the closure and the next cross
aisle now go round the other way. Recomputing all the tables would cost a Dijkstra over
the whole floor each (5-8 ms at 42k nodes, seconds for hundreds of tables); the repair
costs a walk over the cells that changed.

Each function returns the table itself when the change does not affect it, a repaired
copy when it does, and None when more than `limit` nodes would change (a closure cutting
the floor in two, say): the caller then recomputes the table in full.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Table = npt.NDArray[np.float32]  # as floor.Table: one goal's distance from every node

# Table values differing by less than two float32 ulps are taken as equal: the tables are
# the planner's heuristic and the dispatcher's costs, and no safety rests on them.
ULPS = 2.0 * float(np.finfo(np.float32).eps)
# Nodes a repair may change before the table is left to a full recompute. Measured on the
# 42k-node floor with 800 tables: closing a cross-aisle edge took 1.3 s of repairs at
# 4,096, 0.7 s at 1,024 (15 tables left stale, 0.1 s to recompute) and 0.9 s at 420.
REPAIR_LIMIT = 1024


def after_closing(
    row: Table,
    adjacency: Sequence[Sequence[int]],
    lengths: Sequence[Sequence[float]],
    a: int,
    b: int,
    length: float,
    limit: int = REPAIR_LIMIT,
) -> Table | None:
    """The table once edge (a, b) is closed; `adjacency` and `lengths` without it already.

    Only the farther end's side can lose: and only if the edge lay on a shortest path
    (|d[a] - d[b]| == length) and the farther end has no other neighbour as close through
    it. Such a neighbour's own shortest paths never pass through the farther end (lengths
    are positive), so then nothing changes. Otherwise the nodes that lose their way are
    those whose every shortest-path parent lost it too; they get new distances from the
    nodes around them."""
    da, db = row.item(a), row.item(b)
    if not (math.isfinite(da) and math.isfinite(db)):
        return row  # both out of the goal's reach: an edge joins nodes of one component
    far = a if da > db else b
    if abs(da - db) < length - _tolerance(max(da, db), length):
        return row
    if _has_parent(row, adjacency, lengths, far, excluding=set()):
        return row
    if limit < 1:
        return None
    lost = {far}
    frontier = [far]
    while frontier:
        x = frontier.pop()
        dx = row.item(x)
        for y, xy in zip(adjacency[x], lengths[x], strict=True):
            if y in lost or not _equal(row.item(y), dx + xy):
                continue  # not a node whose shortest path ran through x
            if not _has_parent(row, adjacency, lengths, y, excluding=lost):
                lost.add(y)
                frontier.append(y)
                if len(lost) > limit:
                    return None
    return _redo(row, adjacency, lengths, lost)


def after_opening(
    row: Table,
    adjacency: Sequence[Sequence[int]],
    lengths: Sequence[Sequence[float]],
    a: int,
    b: int,
    length: float,
    limit: int = REPAIR_LIMIT,
) -> Table | None:
    """The table once edge (a, b) is open again; `adjacency` and `lengths` with it already.
    It changes only if the edge brings the farther end nearer (|d[a] - d[b]| > length);
    the gain then spreads as far as it shortens anything."""
    da, db = row.item(a), row.item(b)
    if math.isinf(da) and math.isinf(db):
        return row
    near, far = (a, b) if da < db else (b, a)
    start = row.item(near) + length
    if not start < row.item(far) - _tolerance(start, length):
        return row
    if limit < 1:
        return None
    repaired = row.copy()
    repaired[far] = start
    queue = [(start, far)]
    changed = 1
    while queue:
        dx, x = heapq.heappop(queue)
        if dx > repaired.item(x) + _tolerance(dx, 0.0):  # float32 storage rounds
            continue
        for y, xy in zip(adjacency[x], lengths[x], strict=True):
            if dx + xy < repaired.item(y) - _tolerance(dx, xy):
                repaired[y] = dx + xy
                heapq.heappush(queue, (dx + xy, y))
                changed += 1
                if changed > limit:
                    return None
    repaired.flags.writeable = False
    return repaired


def _redo(
    row: Table,
    adjacency: Sequence[Sequence[int]],
    lengths: Sequence[Sequence[float]],
    lost: set[int],
) -> Table:
    """New distances for the `lost` nodes: Dijkstra among them, seeded from the nodes around
    them, whose distances stand. Those cut off from the goal become inf."""
    distance = dict.fromkeys(lost, math.inf)
    for x in lost:
        for z, zx in zip(adjacency[x], lengths[x], strict=True):
            if z not in lost:
                distance[x] = min(distance[x], row.item(z) + zx)
    queue = [(d, x) for x, d in distance.items() if math.isfinite(d)]
    heapq.heapify(queue)
    while queue:
        dx, x = heapq.heappop(queue)
        if dx > distance[x]:
            continue
        for y, xy in zip(adjacency[x], lengths[x], strict=True):
            if y in lost and dx + xy < distance[y]:
                distance[y] = dx + xy
                heapq.heappush(queue, (dx + xy, y))
    repaired = row.copy()
    nodes = np.fromiter(distance.keys(), dtype=np.int64, count=len(distance))
    repaired[nodes] = np.fromiter(distance.values(), dtype=np.float64, count=len(distance))
    repaired.flags.writeable = False
    return repaired


def _has_parent(
    row: Table,
    adjacency: Sequence[Sequence[int]],
    lengths: Sequence[Sequence[float]],
    node: int,
    excluding: set[int],
) -> bool:
    """Whether a neighbour outside `excluding` lies on a shortest path from `node`."""
    d = row.item(node)
    return any(
        z not in excluding and _equal(row.item(z) + zx, d)
        for z, zx in zip(adjacency[node], lengths[node], strict=True)
    )


def _equal(x: float, y: float) -> bool:
    if math.isinf(x) or math.isinf(y):
        return x == y
    return abs(x - y) <= _tolerance(max(x, y), 0.0)


def _tolerance(distance: float, length: float) -> float:
    return ULPS * (abs(distance) + length) + 1e-9
