"""The generated warehouse floor of the fleet simulation: the size asked for, one connected
floor, pockets off the lanes, and rack faces beside racks."""

from __future__ import annotations

from collections import defaultdict, deque

import pytest

from simulators.fleet.grid import warehouse_grid


def _neighbours(edges: list[tuple[str, str, float]]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b, _ in edges:
        graph[a].add(b)
        graph[b].add(a)
    return graph


@pytest.mark.parametrize("cells", [1_000, 7_000, 42_000])
def test_the_floor_has_about_the_cells_asked_for_and_is_connected(cells: int) -> None:
    floor = warehouse_grid(cells, seed=3)
    assert abs(len(floor.node_ids) - cells) <= 0.03 * cells
    assert len(set(floor.node_ids)) == len(floor.node_ids) == len(floor.xy)
    graph = _neighbours(floor.edges)
    seen = {floor.node_ids[0]}
    frontier = deque(seen)
    while frontier:
        for other in graph[frontier.popleft()] - seen:
            seen.add(other)
            frontier.append(other)
    assert seen == set(floor.node_ids)


def test_stations_chargers_and_parking_are_pockets_and_racks_have_faces() -> None:
    floor = warehouse_grid(7_000, seed=1)
    graph = _neighbours(floor.edges)
    for kind in ("station", "charger", "parking"):
        assert floor.goals[kind]
        assert all(len(graph[node]) == 1 for node in floor.goals[kind]), kind
    faces = floor.goals["rack"]
    assert len(faces) > len(floor.node_ids) / 2
    assert set(faces) <= set(floor.node_ids)
    assert all(length == 1.0 for *_, length in floor.edges)


def test_the_seed_moves_the_pockets_not_the_racks() -> None:
    one, other = warehouse_grid(2_000, seed=1), warehouse_grid(2_000, seed=2)
    assert one.goals["rack"] == other.goals["rack"]
    assert one.goals["station"] != other.goals["station"]
    assert warehouse_grid(2_000, seed=1) == one
