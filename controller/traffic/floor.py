"""The site floor compiled to arrays: nodes as ints 0..n-1, CSR adjacency, distance tables.

A distance table is one goal's row of shortest distances from every node (float32, inf where
unreachable). The graph is undirected, so the distance from the goal is the distance to it
and one single-source Dijkstra gives the whole row. Tables for the few goals every AGV
visits (stations, chargers, parking: every kind but racks) are computed at build and
pinned; rack tables on first use, kept in a bounded LRU.

Closing or opening an edge changes only some tables, and those mostly in a few entries:
they are repaired on the spot (`repair.py`). A table whose change reaches too far goes
stale instead: asked for, it is recomputed then; `rebuild_stale_in_background` recomputes
the others in a worker thread. Blocked nodes (a failed AGV's node) do not enter the tables
at all: they are obstacles for the planner only, which goes round them (see `block_node`).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from controller.traffic import repair

if TYPE_CHECKING:
    from controller.domain.layout import Site

Table = npt.NDArray[np.float32]

RACK = "rack"  # the one goal kind whose tables are cached on demand: there are thousands
GOAL_KINDS = ("rack", "station", "charger", "parking")  # the site's node kinds that are goals

# The rack tables' LRU is bounded by memory, not by count: a table is 4 bytes per node. At
# 128 MiB, the bound it starts from, a 42k-node floor keeps ~800 tables (168 KB each) and a
# 7k-node floor ~4,800, most of its rack faces.
RACK_TABLES_BYTES = 128 * 2**20
MIN_RACK_TABLES = 64  # tiny floors: the bound never gets in the way
# The default bound follows the working set: a table computed again while it is among the
# last evicted ones (the ghosts, twice as many as the bound) was still in use, so the bound
# grows by one, up to this much (much as ARC sizes its lists). A 500-AGV fleet on 42k nodes weighs
# ~1,000 open tasks' pickups and 500 goals a tick: 1,500 tables, 250 MB; thrashing at 800,
# each evicted table recomputed at ~7 ms, made dispatch ticks of seconds. A bound given to
# the floor (`rack_tables`) is fixed.
RACK_TABLES_MAX_BYTES = 512 * 2**20
# Sources per scipy dijkstra call: its float64 [batch, n] result is 21 MB at 42k nodes.
DIJKSTRA_BATCH = 64


class CompiledFloor:
    """The floor graph as arrays. Build it with `build` or `from_site`.

    Thread safety: the control loop (one thread) changes the topology and reads tables;
    the background rebuild only installs tables, under the same lock.
    """

    def __init__(
        self,
        node_ids: Sequence[str],
        xy: npt.NDArray[np.float64],
        graph: csr_matrix,
        goals_of_kind: Mapping[str, Sequence[int]],
        *,
        rack_tables: int | None = None,
        executor: Executor | None = None,
        repair_limit: int = repair.REPAIR_LIMIT,
    ) -> None:
        self._ids = tuple(node_ids)
        self._index = {node_id: i for i, node_id in enumerate(self._ids)}
        self.xy = xy
        self._full = graph  # every edge, closed or not: where a reopened edge's weight is kept
        self._graph = graph  # the open edges: what the tables and the planner use
        self._closed: set[tuple[int, int]] = set()
        self._blocked: set[int] = set()
        self.adjacency = _rows(graph, graph.indices)
        self._lengths = _rows(graph, graph.data)  # parallel to `adjacency`
        self.neighbour_matrix = _neighbour_matrix(graph)
        self.repair_limit = repair_limit
        self.version = 0  # bumped by every topology change
        self._graph_version = 0  # bumped only by edge changes: the tables depend on nothing else
        self._goals_of_kind = {kind: tuple(goals) for kind, goals in goals_of_kind.items()}
        table_bytes = 4 * max(1, len(self._ids))
        self.rack_table_limit = rack_tables or max(
            MIN_RACK_TABLES, RACK_TABLES_BYTES // table_bytes
        )
        self._rack_table_ceiling = (
            self.rack_table_limit
            if rack_tables
            else max(self.rack_table_limit, RACK_TABLES_MAX_BYTES // table_bytes)
        )
        self._ghosts: OrderedDict[int, None] = OrderedDict()  # the last evicted rack goals
        self._evicted: set[int] = set()  # every rack goal evicted and not computed since
        self.table_counts = TableCounts()
        self._lock = threading.Lock()
        self._pinned: dict[int, Table] = {}
        self._lru: OrderedDict[int, Table] = OrderedDict()
        self._stale: set[int] = set()
        self._executor = executor
        self._own_executor: ThreadPoolExecutor | None = None
        pinned = sorted(
            {g for kind, goals in self._goals_of_kind.items() if kind != RACK for g in goals}
        )
        for goal, row in zip(pinned, _dijkstra_rows(graph, pinned), strict=True):
            self._pinned[goal] = row

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        node_ids: Sequence[str],
        xy: npt.ArrayLike,
        edges: Iterable[tuple[str, str, float]],
        goals_of_kind: Mapping[str, Collection[str]] | None = None,
        *,
        rack_tables: int | None = None,
        executor: Executor | None = None,
        repair_limit: int = repair.REPAIR_LIMIT,
    ) -> CompiledFloor:
        """Compile nodes, their (x, y) and undirected weighted edges. A repeated edge keeps
        its shortest weight. `goals_of_kind` names the goal nodes by kind ("rack",
        "station", ...): every kind but "rack" has its tables computed now."""
        index = {node_id: i for i, node_id in enumerate(node_ids)}
        if len(index) != len(node_ids):
            raise ValueError("node ids repeat")
        n = len(index)
        coords = np.asarray(xy, dtype=np.float64).reshape(n, 2)
        heads: list[int] = []
        tails: list[int] = []
        lengths: list[float] = []
        for a, b, weight in edges:
            if a == b:
                raise ValueError(f"edge {a}-{b} is a loop")
            if not (weight > 0 and math.isfinite(weight)):
                raise ValueError(f"edge {a}-{b} has weight {weight}: must be positive")
            heads.append(index[a])
            tails.append(index[b])
            lengths.append(weight)
        graph = _symmetric_csr(n, np.array(heads), np.array(tails), np.array(lengths))
        goals = {
            kind: [index[node_id] for node_id in members]
            for kind, members in (goals_of_kind or {}).items()
        }
        return cls(
            node_ids,
            coords,
            graph,
            goals,
            rack_tables=rack_tables,
            executor=executor,
            repair_limit=repair_limit,
        )

    @classmethod
    def from_site(
        cls, site: Site, *, rack_tables: int | None = None, executor: Executor | None = None
    ) -> CompiledFloor:
        """The site's floor, with its rack, station, charger and parking nodes as goals."""
        return cls.build(
            [node.id for node in site.nodes],
            [(node.x, node.y) for node in site.nodes],
            ((edge.a, edge.b, edge.length_m) for edge in site.edges),
            {kind: [n.id for n in site.nodes if n.kind == kind] for kind in GOAL_KINDS},
            rack_tables=rack_tables,
            executor=executor,
        )

    # -- nodes and edges --------------------------------------------------------------------

    @property
    def node_count(self) -> int:
        return len(self._ids)

    def index(self, node_id: str) -> int:
        return self._index[node_id]

    def node_id(self, i: int) -> str:
        return self._ids[i]

    def goals(self, kind: str) -> tuple[int, ...]:
        return self._goals_of_kind.get(kind, ())

    @property
    def indptr(self) -> npt.NDArray[np.int32]:
        """CSR row pointers of the open edges (both directions)."""
        return self._graph.indptr  # type: ignore[no-any-return]

    @property
    def indices(self) -> npt.NDArray[np.int32]:
        return self._graph.indices  # type: ignore[no-any-return]

    @property
    def weights(self) -> npt.NDArray[np.float64]:
        return self._graph.data  # type: ignore[no-any-return]

    def neighbors(self, i: int) -> npt.NDArray[np.int32]:
        """The nodes one open edge away from `i`."""
        return self.indices[self.indptr[i] : self.indptr[i + 1]]

    def weight(self, a: int, b: int) -> float:
        """The edge's length, open or closed; KeyError if there is no such edge."""
        start, end = self._full.indptr[a], self._full.indptr[a + 1]
        hits = np.flatnonzero(self._full.indices[start:end] == b)
        if hits.size == 0:
            raise KeyError(f"no edge {self.node_id(a)}-{self.node_id(b)}")
        return float(self._full.data[start + hits[0]])

    @property
    def edges_version(self) -> int:
        """Bumped when an edge closes or opens: what the distance tables depend on."""
        return self._graph_version

    @property
    def blocked(self) -> frozenset[int]:
        return frozenset(self._blocked)

    def is_closed(self, a: int, b: int) -> bool:
        return _key(a, b) in self._closed

    # -- topology changes -------------------------------------------------------------------

    def close_edge(self, a: int, b: int) -> None:
        """Take the edge out of the floor. The tables it changes are repaired on the spot
        (`repair.after_closing`), or go stale where the change reaches too far."""
        if _key(a, b) not in self._closed:
            self._change_tables(a, b, closing=True)

    def open_edge(self, a: int, b: int) -> None:
        """Put a closed edge back; the tables it shortens are repaired or go stale."""
        if _key(a, b) in self._closed:
            self._change_tables(a, b, closing=False)

    def block_node(self, i: int) -> None:
        """Make `i` an obstacle (a failed AGV stands on it). The tables keep the node: a
        failed AGV is usually cleared within minutes, and changing every table whose paths
        run through it (most of them, in a one-cell aisle) only to change them back at
        `unblock_node` would cost more than it saves; nor should the dispatcher's costs jump
        for it. The planner never enters a blocked node, and gives the agents whose way runs
        through one tables of their own round it (`detour.py`)."""
        if i not in self._blocked:
            self._blocked.add(i)
            self.version += 1

    def unblock_node(self, i: int) -> None:
        if i in self._blocked:
            self._blocked.discard(i)
            self.version += 1

    def _change_tables(self, a: int, b: int, *, closing: bool) -> None:
        """Close or open (a, b) and repair, keep or stale each table accordingly."""
        length = self.weight(a, b)
        with self._lock:
            if closing:
                self._closed.add(_key(a, b))
                after = repair.after_closing
            else:
                self._closed.discard(_key(a, b))
                after = repair.after_opening
            self._change_edges(a, b)
            for goal, row in list(self._tables()):
                if goal in self._stale:
                    continue
                repaired = after(
                    row, self.adjacency, self._lengths, a, b, length, self.repair_limit
                )
                if repaired is None:
                    self._stale.add(goal)
                elif repaired is not row:
                    self._replace(goal, repaired)

    def _change_edges(self, a: int, b: int) -> None:
        """Rebuild the open graph after `(a, b)` closed or opened (caller holds the lock)."""
        self._graph = _without(self._full, self._closed)
        for node in (a, b):
            neighbours = self.neighbors(node)
            self.adjacency[node] = neighbours.tolist()
            start, end = self.indptr[node], self.indptr[node + 1]
            self._lengths[node] = self.weights[start:end].tolist()
            self.neighbour_matrix[node] = -1
            self.neighbour_matrix[node, : neighbours.size] = neighbours
        self._graph_version += 1
        self.version += 1

    # -- distance tables --------------------------------------------------------------------

    def distances_to(self, goal: int) -> Table:
        """Every node's shortest distance to `goal` (read-only). A missing or stale table is
        computed now: the synchronous fallback of the background rebuild."""
        return self.distance_tables((goal,))[goal]

    def shortest_path(self, start: int, goal: int) -> tuple[int, ...]:
        """The nodes after `start` on a shortest open path to `goal`, down its distance table
        (no search); empty if `goal` is `start` or out of reach."""
        table = self.distances_to(goal)
        if not math.isfinite(table.item(start)):
            return ()
        path: list[int] = []
        node = start
        while node != goal and len(path) < len(self._ids):
            node = min(
                (
                    (length + table.item(other), other)
                    for other, length in zip(self.adjacency[node], self._lengths[node], strict=True)
                    if not self.is_closed(node, other)
                ),
            )[1]
            path.append(node)
        return tuple(path)

    def distance_tables(self, goals: Iterable[int]) -> dict[int, Table]:
        """The tables of `goals`, the missing and stale ones computed in one batch."""
        with self._lock:
            found: dict[int, Table] = {}
            missing: list[int] = []
            for goal in dict.fromkeys(goals):
                row = self._fresh(goal)
                if row is None:
                    missing.append(goal)
                else:
                    found[goal] = row
            for goal, row in zip(missing, _dijkstra_rows(self._graph, missing), strict=True):
                self._install(goal, row)
                found[goal] = row
            return found

    def distance_rows(self, goals: Sequence[int]) -> npt.NDArray[np.float32]:
        """Shape [len(goals), n]: row k is `distances_to(goals[k])`. The dispatcher's cost
        matrix is `rows[:, agv_nodes]`."""
        tables = self.distance_tables(goals)
        if not goals:
            return np.empty((0, self.node_count), dtype=np.float32)
        return np.stack([tables[goal] for goal in goals])

    def distances(self, goals: Sequence[int], nodes: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Shape [len(goals), len(nodes)]: row k, column m is the distance from nodes[m] to
        goals[k]. Only those entries are read: the dispatcher needs a few hundred of each
        table's tens of thousands, and copying whole rows cost it more than the rest of a
        tick (500 tables of a 42k-node floor are 84 MB)."""
        at = np.asarray(nodes, dtype=np.intp).reshape(-1)
        tables = self.distance_tables(goals)
        out = np.empty((len(goals), at.size), dtype=np.float32)
        for k, goal in enumerate(goals):
            out[k] = tables[goal][at]
        return out

    def precompute(self, goals: Iterable[int]) -> None:
        """Compute the tables of `goals` now, in batched Dijkstra calls. Rack goals beyond
        the LRU's bound push out the least recently used."""
        self.distance_tables(goals)

    def cached_goals(self) -> frozenset[int]:
        with self._lock:
            return frozenset(self._pinned) | frozenset(self._lru)

    def stale_goals(self) -> frozenset[int]:
        with self._lock:
            return frozenset(self._stale)

    def rebuild_stale_in_background(self) -> Future[int] | None:
        """Recompute every stale table in a worker thread; each result is installed only if
        no edge changed meanwhile (a table of an older graph would be wrong). The future
        gives the number of tables installed. None when nothing is stale."""
        with self._lock:
            goals = sorted(self._stale)
            graph, graph_version = self._graph, self._graph_version
        if not goals:
            return None
        return self._worker().submit(self._rebuild, goals, graph, graph_version)

    def expect_rack_tables(self, count: int) -> None:
        """Raise the default bound to at least `count` rack tables (up to its ceiling), for a
        working set known ahead: a fleet's goals and the open tasks the dispatcher weighs.
        A bound given to the floor is fixed, and stays."""
        with self._lock:
            wanted = min(self._rack_table_ceiling, count)
            self.rack_table_limit = max(self.rack_table_limit, wanted)

    def shutdown(self) -> None:
        """Stop the worker thread this floor started, if any."""
        if self._own_executor is not None:
            self._own_executor.shutdown(wait=True)
            self._own_executor = None

    def _rebuild(self, goals: list[int], graph: csr_matrix, graph_version: int) -> int:
        # scipy's dijkstra holds the GIL: one table per call, so that the control loop
        # never waits more than one table's time (~6 ms at 42k nodes) for the interpreter.
        rows = _dijkstra_rows(graph, goals, batch=1)
        with self._lock:
            if graph_version != self._graph_version:
                return 0
            installed = 0
            for goal, row in zip(goals, rows, strict=True):
                if goal in self._stale:  # still cached, and not recomputed meanwhile
                    self._install(goal, row)
                    installed += 1
            return installed

    def _worker(self) -> Executor:
        if self._executor is not None:
            return self._executor
        if self._own_executor is None:
            self._own_executor = ThreadPoolExecutor(1, thread_name_prefix="floor-tables")
        return self._own_executor

    def _tables(self) -> Iterable[tuple[int, Table]]:
        yield from self._pinned.items()
        yield from self._lru.items()

    def _fresh(self, goal: int) -> Table | None:
        if goal in self._stale:
            return None
        if goal in self._pinned:
            return self._pinned[goal]
        row = self._lru.get(goal)
        if row is not None:
            self._lru.move_to_end(goal)
        return row

    def _replace(self, goal: int, row: Table) -> None:
        """A repaired table in place of the old one, its place in the LRU kept."""
        if goal in self._pinned:
            self._pinned[goal] = row
        else:
            self._lru[goal] = row

    def _install(self, goal: int, row: Table) -> None:
        self._stale.discard(goal)
        if goal in self._pinned:
            self._pinned[goal] = row
            return
        counts = self.table_counts
        if goal not in self._lru:
            counts.computed += 1
            if goal in self._evicted:
                self._evicted.discard(goal)
                counts.recomputed_after_eviction += 1
            if goal in self._ghosts:  # evicted, and wanted again already
                del self._ghosts[goal]
                self.rack_table_limit = min(self._rack_table_ceiling, self.rack_table_limit + 1)
        self._lru[goal] = row
        self._lru.move_to_end(goal)
        while len(self._lru) > self.rack_table_limit:
            evicted, _ = self._lru.popitem(last=False)
            self._stale.discard(evicted)
            counts.evicted += 1
            self._evicted.add(evicted)
            self._ghosts[evicted] = None
            while len(self._ghosts) > 2 * self.rack_table_limit:
                self._ghosts.popitem(last=False)


@dataclass(slots=True)
class TableCounts:
    """Rack tables over the floor's life: what the bound costs."""

    computed: int = 0  # new to the cache (a stale table recomputed is not counted)
    evicted: int = 0
    recomputed_after_eviction: int = 0  # evicted while still in use: the bound was short


def _key(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _symmetric_csr(
    n: int,
    heads: npt.NDArray[np.int64],
    tails: npt.NDArray[np.int64],
    lengths: npt.NDArray[np.float64],
) -> csr_matrix:
    """Both directions of each undirected edge; a repeated edge keeps its shortest length
    (csr_matrix would add them up)."""
    low, high = np.minimum(heads, tails), np.maximum(heads, tails)
    order = np.lexsort((lengths, low * n + high))
    key = (low * n + high)[order]
    first = np.ones(key.size, dtype=bool)
    first[1:] = key[1:] != key[:-1]
    low, high, lengths = low[order][first], high[order][first], lengths[order][first]
    rows = np.concatenate([low, high])
    cols = np.concatenate([high, low])
    data = np.concatenate([lengths, lengths])
    return csr_matrix((data, (rows, cols)), shape=(n, n))


def _without(full: csr_matrix, closed: set[tuple[int, int]]) -> csr_matrix:
    """`full` less the closed edges (both directions)."""
    if not closed:
        return full
    n = full.shape[0]
    rows = np.repeat(np.arange(n), np.diff(full.indptr))
    cols = full.indices
    pairs = np.array(sorted(closed), dtype=np.int64)
    closed_keys = pairs[:, 0] * n + pairs[:, 1]
    keys = np.minimum(rows, cols).astype(np.int64) * n + np.maximum(rows, cols)
    keep = ~np.isin(keys, closed_keys)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[keep], minlength=n))])
    return csr_matrix((full.data[keep], cols[keep], indptr), shape=full.shape)


def _rows(graph: csr_matrix, values: npt.NDArray[Any]) -> list[list[Any]]:
    """A CSR array as one Python list per node: the planner's loops read them far faster
    than array slices."""
    indptr = graph.indptr.tolist()
    flat = values.tolist()
    return [flat[indptr[i] : indptr[i + 1]] for i in range(graph.shape[0])]


def _neighbour_matrix(graph: csr_matrix) -> npt.NDArray[np.int64]:
    """Row i: i's neighbours, padded with -1 to the floor's highest degree. The planner
    ranks every agent's moves at once with it."""
    degrees = np.diff(graph.indptr)
    matrix = np.full((graph.shape[0], max(1, int(degrees.max(initial=0)))), -1, dtype=np.int64)
    rows = np.repeat(np.arange(graph.shape[0]), degrees)
    columns = np.arange(graph.indices.size) - np.repeat(graph.indptr[:-1], degrees)
    matrix[rows, columns] = graph.indices
    return matrix


def _dijkstra_rows(
    graph: csr_matrix, goals: Sequence[int], batch: int = DIJKSTRA_BATCH
) -> list[Table]:
    """One read-only float32 table per goal, in batched scipy calls. The CSR holds both
    directions of every edge, so `directed=True` is exact and skips scipy's symmetrising.
    Each row is its own array, so that evicting it frees it."""
    rows: list[Table] = []
    for start in range(0, len(goals), batch):
        chunk = list(goals[start : start + batch])
        for distances in dijkstra(graph, directed=True, indices=chunk):
            row = distances.astype(np.float32)
            row.flags.writeable = False
            rows.append(row)
    return rows
