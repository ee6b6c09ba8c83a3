"""CompiledFloor: the floor as arrays, its distance tables, and how topology changes reach
them."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

import networkx as nx
import numpy as np
import pytest

from controller.siteconfig import load_site
from controller.traffic import floor as floor_module
from controller.traffic.floor import CompiledFloor
from tests.conftest import DEMO_SITE
from tests.unit.traffic.grids import cell_id, grid, open_picture, random_picture


class ManualExecutor(Executor):
    """Runs submitted work only when told: the test decides what happens in between."""

    def __init__(self) -> None:
        self.pending: list[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        assert not kwargs
        future: Future[Any] = Future()
        self.pending.append((future, fn, args))
        return future

    def run_pending(self) -> None:
        for future, fn, args in self.pending:
            future.set_result(fn(*args))
        self.pending.clear()


def weighted_random_floor(seed: int, **options: Any) -> tuple[CompiledFloor, nx.Graph]:
    """A 30 x 20 grid with a quarter of its cells walls and edge lengths from 0.5 to 2 m,
    and the same graph in networkx."""
    rng = random.Random(seed)
    picture = random_picture(30, 20, 0.25, seed).splitlines()
    free = [(r, c) for r, line in enumerate(picture) for c, ch in enumerate(line) if ch == "."]
    cells = set(free)
    edges = [
        (cell_id(r, c), cell_id(r + dr, c + dc), round(rng.uniform(0.5, 2.0), 2))
        for r, c in free
        for dr, dc in ((0, 1), (1, 0))
        if (r + dr, c + dc) in cells
    ]
    ids = [cell_id(r, c) for r, c in free]
    floor = CompiledFloor.build(ids, [(c, -r) for r, c in free], edges, **options)
    graph = nx.Graph()
    graph.add_nodes_from(ids)
    graph.add_weighted_edges_from(edges)
    return floor, graph


def networkx_table(floor: CompiledFloor, graph: nx.Graph, goal: int) -> np.ndarray:
    lengths = nx.single_source_dijkstra_path_length(graph, floor.node_id(goal))
    return np.array(
        [lengths.get(floor.node_id(i), math.inf) for i in range(floor.node_count)],
        dtype=np.float32,
    )


def test_distance_tables_equal_networkx_dijkstra_on_a_random_weighted_grid() -> None:
    floor, graph = weighted_random_floor(seed=3)
    for goal in random.Random(3).sample(range(floor.node_count), 12):
        np.testing.assert_allclose(floor.distances_to(goal), networkx_table(floor, graph, goal))


def test_tables_are_float32_read_only_with_inf_where_unreachable() -> None:
    g = grid(
        """
        A.#C
        ..#.
        """
    )
    table = g.floor.distances_to(g["A"])
    assert table.dtype == np.float32
    assert table[g["A"]] == 0.0
    assert math.isinf(table[g["C"]])
    with pytest.raises(ValueError, match="read-only"):
        table[0] = 1.0


def test_a_batch_computes_the_same_tables_as_one_at_a_time() -> None:
    batched, _ = weighted_random_floor(seed=5)
    single, _ = weighted_random_floor(seed=5)
    goals = random.Random(5).sample(range(batched.node_count), 70)  # more than one batch
    batched.precompute(goals)
    for goal in goals:
        np.testing.assert_array_equal(batched.distances_to(goal), single.distances_to(goal))
    rows = batched.distance_rows(goals)
    assert rows.shape == (len(goals), batched.node_count)
    np.testing.assert_array_equal(rows[7], single.distances_to(goals[7]))
    assert batched.distance_rows([]).shape == (0, batched.node_count)


def test_station_charger_and_parking_tables_are_computed_at_build_and_racks_on_use() -> None:
    g = grid(
        """
        S.C.P
        R...Q
        """,
        {"station": "S", "charger": "C", "parking": "P", "rack": "RQ"},
    )
    assert g.floor.cached_goals() == {g["S"], g["C"], g["P"]}
    assert g.floor.goals("rack") == (g["R"], g["Q"])
    g.floor.distances_to(g["R"])
    assert g.floor.cached_goals() == {g["S"], g["C"], g["P"], g["R"]}


def test_rack_tables_are_kept_in_a_bounded_lru() -> None:
    g = grid(
        """
        S.........
        0123456789
        """,
        {"station": "S", "rack": "0123456789"},
        rack_tables=3,
    )
    floor = g.floor
    for label in "01234":
        floor.distances_to(g[label])
    assert floor.cached_goals() == {g["S"], g["2"], g["3"], g["4"]}
    floor.distances_to(g["2"])  # used again: now the most recent
    floor.distances_to(g["5"])
    assert floor.cached_goals() == {g["S"], g["4"], g["2"], g["5"]}
    # Asking for more than the bound at once still answers every row.
    rows = floor.distance_rows([g[label] for label in "0123456789"])
    assert [row[g[label]] for row, label in zip(rows, "0123456789", strict=True)] == [0.0] * 10
    assert len(floor.cached_goals()) == 1 + 3


def test_a_repeated_edge_keeps_its_shortest_length() -> None:
    floor = CompiledFloor.build(
        ["a", "b", "c"],
        [(0, 0), (1, 0), (2, 0)],
        [("a", "b", 3.0), ("b", "a", 1.0), ("b", "c", 2.0)],
    )
    assert floor.weight(0, 1) == 1.0
    assert floor.distances_to(0).tolist() == [0.0, 1.0, 3.0]
    assert sorted(floor.neighbors(1).tolist()) == [0, 2]
    assert floor.adjacency == [[1], [0, 2], [1]]


@pytest.mark.parametrize(
    ("edges", "problem"),
    [
        ([("a", "a", 1.0)], "loop"),
        ([("a", "b", 0.0)], "positive"),
        ([("a", "b", math.inf)], "positive"),
    ],
)
def test_bad_edges_are_refused(edges: list[tuple[str, str, float]], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        CompiledFloor.build(["a", "b"], [(0, 0), (1, 0)], edges)


def test_the_demo_site_compiles_with_its_goal_kinds() -> None:
    site = load_site(DEMO_SITE)
    floor = CompiledFloor.from_site(site)
    assert floor.node_count == len(site.nodes)
    station = floor.index(site.stations[0].node)
    assert station in floor.goals("station")
    assert floor.goals("rack")
    assert station in floor.cached_goals()
    graph = nx.Graph()
    graph.add_weighted_edges_from((e.a, e.b, e.length_m) for e in site.edges)
    np.testing.assert_allclose(floor.distances_to(station), networkx_table(floor, graph, station))


# -- topology changes -----------------------------------------------------------------------


def changed_tables(floor: CompiledFloor, before: dict[int, np.ndarray]) -> set[int]:
    """The goals whose true distances differ from `before` on the floor as it is now."""
    graph = nx.Graph()
    graph.add_nodes_from(range(floor.node_count))
    for a in range(floor.node_count):
        for b in floor.adjacency[a]:
            graph.add_edge(a, b, weight=floor.weight(a, b))
    changed = set()
    for goal, table in before.items():
        lengths = nx.single_source_dijkstra_path_length(graph, goal)
        now = np.array([lengths.get(i, math.inf) for i in range(floor.node_count)])
        if not np.allclose(now, table):
            changed.add(goal)
    return changed


def assert_tables_match_networkx(floor: CompiledFloor, goals: list[int]) -> None:
    graph = nx.Graph()
    graph.add_nodes_from(floor.node_id(i) for i in range(floor.node_count))
    for a in range(floor.node_count):
        for b in floor.adjacency[a]:
            graph.add_edge(floor.node_id(a), floor.node_id(b), weight=floor.weight(a, b))
    for goal in goals:
        np.testing.assert_allclose(
            floor.distances_to(goal), networkx_table(floor, graph, goal), rtol=1e-6
        )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_closing_an_edge_repairs_exactly_the_tables_it_changes(seed: int) -> None:
    rng = random.Random(seed)
    g = grid(open_picture(12, 9))
    floor = g.floor
    goals = rng.sample(range(floor.node_count), 40)
    before = {goal: floor.distances_to(goal) for goal in goals}
    a = rng.randrange(floor.node_count)
    b = rng.choice(floor.adjacency[a])
    floor.close_edge(a, b)
    assert floor.is_closed(b, a)
    assert b not in floor.adjacency[a]
    assert b not in floor.neighbors(a)
    changed = changed_tables(floor, before)
    assert changed, "some goal lies in line with the edge"
    assert len(changed) < len(goals) / 2  # on a grid nearly every edge is on a shortest path
    assert not floor.stale_goals()
    for goal in goals:
        if goal in changed:
            assert floor.distances_to(goal) is not before[goal]  # repaired
        else:
            assert floor.distances_to(goal) is before[goal]  # kept as it was
    assert_tables_match_networkx(floor, goals)


def test_closures_and_reopenings_on_a_weighted_floor_keep_the_tables_exact() -> None:
    floor, _ = weighted_random_floor(seed=8)
    rng = random.Random(8)
    goals = rng.sample(range(floor.node_count), 25)
    floor.precompute(goals)
    closed: list[tuple[int, int]] = []
    for _ in range(12):
        if closed and rng.random() < 0.3:
            floor.open_edge(*closed.pop(rng.randrange(len(closed))))
        else:
            a = rng.choice([v for v in range(floor.node_count) if floor.adjacency[v]])
            closed.append((a, rng.choice(floor.adjacency[a])))
            floor.close_edge(*closed[-1])
        assert not floor.stale_goals()
        assert_tables_match_networkx(floor, goals)


def test_a_change_reaching_too_far_leaves_the_tables_stale() -> None:
    """Closing the middle of a corridor changes half of it for every goal: more than this
    floor's repair limit, so those tables go stale and are recomputed when asked for."""
    g = grid("A........B", repair_limit=2)
    floor = g.floor
    before = {goal: floor.distances_to(goal) for goal in range(floor.node_count)}
    floor.close_edge(g.at(0, 4), g.at(0, 5))
    assert floor.stale_goals() == changed_tables(floor, before)
    assert g["A"] in floor.stale_goals()
    assert math.isinf(floor.distances_to(g["A"])[g["B"]])
    assert g["A"] not in floor.stale_goals()


def test_a_change_bumps_the_version() -> None:
    g = grid(open_picture(3, 3))
    floor = g.floor
    versions = [floor.version]
    floor.close_edge(0, 1)
    versions.append(floor.version)
    floor.close_edge(0, 1)  # already closed: no change
    versions.append(floor.version)
    floor.open_edge(0, 1)
    versions.append(floor.version)
    floor.block_node(4)
    versions.append(floor.version)
    floor.unblock_node(4)
    versions.append(floor.version)
    assert versions == [0, 1, 1, 2, 3, 4]


def test_reopening_an_edge_restores_the_tables() -> None:
    g = grid(
        """
        A....
        .###.
        B....
        """
    )
    floor = g.floor
    goals = list(range(floor.node_count))
    original = {goal: floor.distances_to(goal).copy() for goal in goals}
    a, b = g.at(0, 1), g.at(0, 2)
    floor.close_edge(a, b)
    assert floor.distances_to(g["A"])[g.at(0, 4)] == 8.0  # round the ring
    floor.open_edge(a, b)
    assert not floor.stale_goals()
    for goal in goals:
        np.testing.assert_array_equal(floor.distances_to(goal), original[goal])


def test_blocking_a_node_leaves_the_tables_alone() -> None:
    g = grid(open_picture(4, 3), {"station": []})
    floor = g.floor
    table = floor.distances_to(0)
    floor.block_node(5)
    assert floor.blocked == {5}
    assert not floor.stale_goals()
    assert floor.distances_to(0) is table
    assert 5 in floor.adjacency[4]  # still an edge: the planner keeps off it
    floor.unblock_node(5)
    assert floor.blocked == frozenset()


def test_background_rebuild_installs_fresh_tables() -> None:
    executor = ManualExecutor()
    g = grid(open_picture(6, 4), executor=executor, repair_limit=0)
    floor = g.floor
    goals = list(range(floor.node_count))
    floor.precompute(goals)
    floor.close_edge(g.at(1, 2), g.at(1, 3))
    stale = floor.stale_goals()
    assert stale
    future = floor.rebuild_stale_in_background()
    assert future is not None
    assert not future.done()
    assert floor.stale_goals() == stale  # nothing installed until the work has run
    executor.run_pending()
    assert future.result() == len(stale)
    assert not floor.stale_goals()
    reference = grid(open_picture(6, 4), repair_limit=0).floor
    reference.close_edge(g.at(1, 2), g.at(1, 3))
    for goal in stale:
        np.testing.assert_array_equal(floor.distances_to(goal), reference.distances_to(goal))
    assert floor.rebuild_stale_in_background() is None  # nothing left


def test_background_rebuild_for_an_older_graph_is_discarded() -> None:
    executor = ManualExecutor()
    floor = CompiledFloor.build(
        [cell_id(0, c) for c in range(5)],
        [(c, 0) for c in range(5)],
        [(cell_id(0, c), cell_id(0, c + 1), 1.0) for c in range(4)],
        executor=executor,
        repair_limit=0,
    )
    floor.precompute(range(5))
    floor.close_edge(0, 1)
    first = floor.stale_goals()
    future = floor.rebuild_stale_in_background()
    floor.close_edge(3, 4)  # the graph changes while the worker computes
    executor.run_pending()
    assert future is not None
    assert future.result() == 0
    assert floor.stale_goals() == {0, 1, 2, 3, 4}
    assert first <= floor.stale_goals()
    assert floor.distances_to(2).tolist() == [math.inf, 1.0, 0.0, 1.0, math.inf]


def test_background_rebuild_in_a_worker_thread() -> None:
    g = grid(open_picture(20, 20), repair_limit=0)
    floor = g.floor
    floor.precompute(range(0, floor.node_count, 7))
    floor.close_edge(g.at(0, 0), g.at(0, 1))
    floor.close_edge(g.at(10, 10), g.at(10, 11))
    try:
        future = floor.rebuild_stale_in_background()
        assert future is not None
        assert future.result(timeout=30) > 0
        assert not floor.stale_goals()
    finally:
        floor.shutdown()


def test_the_shortest_path_follows_the_table_and_avoids_closed_edges() -> None:
    g = grid(
        """
        A..B
        .##.
        ....
        """
    )
    path = g.floor.shortest_path(g["A"], g["B"])
    assert path == (g.at(0, 1), g.at(0, 2), g["B"])
    g.floor.close_edge(g.at(0, 1), g.at(0, 2))
    around = g.floor.shortest_path(g["A"], g["B"])
    assert len(around) == 7
    assert around[-1] == g["B"]
    for a, b in zip((g["A"], *around), around, strict=False):
        assert b in g.floor.adjacency[a]
        assert not g.floor.is_closed(a, b)
    assert g.floor.shortest_path(g["B"], g["B"]) == ()


def test_the_default_rack_table_bound_grows_to_the_working_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ten rack goals in use every tick against a default bound of four: tables evicted
    while still in use grow the bound, and from the third tick on none is computed again."""
    racks = "0123456789"
    picture = """
        S.........
        0123456789
        """
    monkeypatch.setattr(floor_module, "MIN_RACK_TABLES", 1)
    monkeypatch.setattr(floor_module, "RACK_TABLES_BYTES", 4 * 4 * 20)  # four tables of 20 nodes
    g = grid(picture, {"station": "S", "rack": racks})
    floor = g.floor
    assert floor.rack_table_limit == 4
    computed = []
    for _ in range(5):  # a tick: the dispatcher's goals, then the planner's
        floor.distance_rows([g[label] for label in racks[:6]])
        floor.distance_tables(g[label] for label in racks[4:])
        computed.append(floor.table_counts.computed)
    assert computed[2] == computed[-1]  # nothing evicted that a later tick needs
    assert floor.rack_table_limit >= len(racks)
    assert floor.table_counts.recomputed_after_eviction == computed[-1] - len(racks)


def test_a_rack_table_bound_given_to_the_floor_is_fixed() -> None:
    racks = "0123456789"
    g = grid("S.........\n0123456789", {"station": "S", "rack": racks}, rack_tables=3)
    for _ in range(3):
        g.floor.distance_rows([g[label] for label in racks])
    assert g.floor.rack_table_limit == 3
    assert g.floor.table_counts.recomputed_after_eviction > 0


def test_a_working_set_known_ahead_raises_the_default_bound_up_to_its_ceiling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(floor_module, "MIN_RACK_TABLES", 1)
    monkeypatch.setattr(floor_module, "RACK_TABLES_BYTES", 4 * 4 * 20)  # four tables of 20 nodes
    monkeypatch.setattr(floor_module, "RACK_TABLES_MAX_BYTES", 4 * 12 * 20)  # twelve at most
    picture = "S.........\n0123456789"
    floor = grid(picture, {"station": "S", "rack": "0123456789"}).floor
    floor.expect_rack_tables(8)
    assert floor.rack_table_limit == 8
    floor.expect_rack_tables(6)  # never lowered
    assert floor.rack_table_limit == 8
    floor.expect_rack_tables(100)
    assert floor.rack_table_limit == 12
    fixed = grid(picture, {"station": "S", "rack": "0123456789"}, rack_tables=3).floor
    fixed.expect_rack_tables(8)
    assert fixed.rack_table_limit == 3
