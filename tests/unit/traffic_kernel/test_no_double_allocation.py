"""Randomised property test: whatever a (buggy) planner and flaky AGVs do, no node or edge
is ever held by two AGVs, and each allocation stays a path through its AGV's position."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest

from controller.traffic.errors import AgvOffline
from controller.traffic.kernel import ReservationKernel
from controller.traffic.violations import ViolationKind
from tests.unit.traffic_kernel.floors import grid_edges

WIDTH, HEIGHT = 8, 8
AGVS = 14
STEPS = 4000
MAX_OFFLINE, MAX_BLOCKED, MAX_CLOSED = 3, 4, 6  # enough to bite, few enough to leave traffic
OWNERSHIP = {
    ViolationKind.DOUBLE_ALLOCATION,
    ViolationKind.OWNER_MISMATCH,
    ViolationKind.CURRENT_NOT_HELD,
}


class Floor:
    def __init__(self) -> None:
        self.edges = {tuple(sorted(e)) for e in grid_edges(WIDTH, HEIGHT)}
        self.neighbours: dict[int, list[int]] = {n: [] for n in range(WIDTH * HEIGHT)}
        for a, b in self.edges:
            self.neighbours[a].append(b)
            self.neighbours[b].append(a)


def random_path(rng: random.Random, floor: Floor, start: int) -> list[int]:
    """What a buggy planner might propose: mostly walks, sometimes waits or jumps."""
    path = [start]
    for _ in range(rng.randint(0, 6)):
        roll = rng.random()
        if roll < 0.08:
            path.append(path[-1])  # wait
        elif roll < 0.12:
            path.append(rng.randrange(WIDTH * HEIGHT))  # jump: not adjacent
        else:
            path.append(rng.choice(floor.neighbours[path[-1]]))
    return path


def held_edges(allocation: tuple[int, ...]) -> set[tuple[int, int]]:
    return {(min(a, b), max(a, b)) for a, b in pairwise(allocation)}


def assert_consistent(kernel: ReservationKernel, floor: Floor) -> None:
    holders: dict[int, str] = {}
    edge_holders: dict[tuple[int, int], str] = {}
    for agv_id in kernel.agv_ids():
        allocation = kernel.allocation(agv_id)
        assert allocation[0] == kernel.current_node(agv_id)
        assert len(set(allocation)) == len(allocation)
        for node in allocation:
            assert node not in holders, f"node {node} held by {holders[node]} and {agv_id}"
            holders[node] = agv_id
        for a, b in pairwise(allocation):
            edge = (min(a, b), max(a, b))
            assert edge in floor.edges, f"{agv_id} holds a jump {a} → {b}"
            assert edge not in edge_holders
            edge_holders[edge] = agv_id
    for node in range(WIDTH * HEIGHT):
        assert kernel.holder(node) == holders.get(node)
    for a, b in floor.edges:
        assert kernel.edge_holder(a, b) == edge_holders.get((a, b))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_operations_never_hold_a_node_twice(seed: int) -> None:
    rng = random.Random(seed)
    floor = Floor()
    kernel = ReservationKernel(WIDTH * HEIGHT, floor.edges)
    blocked: set[int] = set()
    closed: set[tuple[int, int]] = set()
    for i, node in enumerate(rng.sample(range(WIDTH * HEIGHT), AGVS)):
        kernel.place(f"agv{i}", node)

    for step in range(STEPS):
        agv_id = rng.choice(kernel.agv_ids())
        allocation = kernel.allocation(agv_id)
        roll = rng.random()
        if roll < 0.45:
            grant = kernel.request(agv_id, random_path(rng, floor, rng.choice(allocation)))
            after = kernel.allocation(agv_id)
            assert not (set(after) - set(allocation)) & blocked, "granted a blocked node"
            new_edges = held_edges(after) - held_edges(allocation)
            assert not new_edges & closed, "granted a closed edge"
            assert set(grant.nodes) <= set(after)
        elif roll < 0.75:
            if len(allocation) > 1 and rng.random() < 0.9:
                kernel.confirm(agv_id, allocation[rng.randint(1, len(allocation) - 1)])
            else:  # a confused AGV reporting somewhere it was never granted
                stray = rng.randrange(WIDTH * HEIGHT)
                violation = kernel.confirm(agv_id, stray)
                assert (violation is None) == (stray in allocation)
                if violation is not None:
                    assert kernel.allocation(agv_id) == allocation
        elif roll < 0.83:
            if kernel.is_offline(agv_id):
                with pytest.raises(AgvOffline):
                    kernel.release_ahead(agv_id)
                assert kernel.allocation(agv_id) == allocation
            else:
                kernel.release_ahead(agv_id)
        elif roll < 0.89:
            if kernel.is_offline(agv_id):
                kernel.online(agv_id)
            elif sum(map(kernel.is_offline, kernel.agv_ids())) < MAX_OFFLINE:
                kernel.offline(agv_id)
        elif roll < 0.94:
            if len(blocked) >= MAX_BLOCKED:
                node = rng.choice(sorted(blocked))
                kernel.unblock_node(node)
                blocked.discard(node)
            else:
                node = rng.randrange(WIDTH * HEIGHT)
                kernel.block_node(node)
                blocked.add(node)
        elif roll < 0.98:
            if len(closed) >= MAX_CLOSED:
                a, b = rng.choice(sorted(closed))
                kernel.open_edge(a, b)
                closed.discard((a, b))
            else:
                a, b = rng.choice(sorted(floor.edges))
                kernel.close_edge(a, b)
                closed.add((a, b))
        else:  # it leaves, and comes back somewhere (maybe onto a held node)
            kernel.remove(agv_id)
            if kernel.place(agv_id, rng.randrange(WIDTH * HEIGHT)) is not None:
                free = next(n for n in range(WIDTH * HEIGHT) if kernel.holder(n) is None)
                kernel.place(agv_id, free)  # the caller's decision after the conflict

        assert_consistent(kernel, floor)
        found = kernel.check(float(step))
        assert not [v for v in found if v.kind in OWNERSHIP]
        for deadlock in (v for v in found if v.kind is ViolationKind.DEADLOCK):
            yielder = deadlock.agvs[0]
            if not kernel.is_offline(yielder):
                kernel.release_ahead(yielder)
                assert yielder not in kernel.waits_for()
    assert kernel.violation_counts().get(ViolationKind.DEADLOCK), "the run never deadlocked"
