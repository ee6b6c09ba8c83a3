"""The completeness fallback: a time-boxed LaCAM search (Okumura 2023) for a few agents that
PIBT leaves stuck, the rest of the fleet standing still as obstacles.

LaCAM is a depth-first search over joint configurations. Its successors are generated
lazily by PIBT (`pibt.step`, with the same no-following rule), each under a low-level
constraint that fixes some agents' next nodes; the constraints of a configuration are
enumerated breadth first, one more agent fixed per level, so that given time every legal
successor is tried. The search therefore finds a plan whenever one exists within the
subproblem (LaCAM's completeness), and the wall-clock budget and the expansion bound make
it give up otherwise.

Plain LaCAM's first plan can wander for hundreds of steps. Two of LaCAM*'s refinements
keep it short: a successor already known is linked and revisited, and every link found is
used to shorten the known ways (Dijkstra over the links); once a plan is found the search
goes on as long again, pruning what cannot beat it.

What the plan must achieve is given per agent as a distance target (the goal itself, or
just some progress toward it): the planner asks for progress past the knot, and PIBT takes
over from there.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from controller.traffic import pibt
from controller.traffic.floor import CompiledFloor, Table

Configuration = tuple[int, ...]
MIN_REFINING = 200  # expansions spent shortening a plan found very fast


@dataclass(frozen=True, slots=True)
class _Constraint:
    """Agents' next nodes fixed on the way down the low-level tree."""

    parent: _Constraint | None
    agent: int
    node: int
    depth: int  # how many agents it fixes

    def moves(self) -> dict[int, int]:
        fixed: dict[int, int] = {}
        link: _Constraint | None = self
        while link is not None and link.depth > 0:
            fixed[link.agent] = link.node
            link = link.parent
        return fixed


NO_CONSTRAINT = _Constraint(None, -1, -1, 0)


@dataclass(eq=False, slots=True)
class _Node:
    """A configuration reached by the search, and the constraints still to try from it."""

    configuration: Configuration
    parent: _Node | None  # the predecessor on the shortest known way from the start
    priorities: list[float]
    order: list[int]  # the agents by descending priority: PIBT's order, the tree's levels
    steps: int = 0  # the length of that way
    successors: list[_Node] = field(default_factory=list)
    constraints: deque[_Constraint] = field(default_factory=lambda: deque([NO_CONSTRAINT]))


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The configurations from the start to the goal (both included), or None."""

    configurations: list[Configuration] | None
    expansions: int


def search(
    floor: CompiledFloor,
    starts: Sequence[int],
    tables: Sequence[Table | None],
    targets: Sequence[float],
    rng: random.Random,
    *,
    obstacles: Collection[int] = frozenset(),
    budget_s: float = 0.05,
    max_expansions: int | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> SearchResult:
    """Joint steps taking every agent i to a node at most `targets[i]` from its goal by
    `tables[i]`: 0 is the goal itself, a distance short of the agent's best so far is
    progress, inf is anywhere (and so is a None table).

    `obstacles` are never entered (blocked nodes, the agents outside the subproblem). Gives
    up after `budget_s` of wall clock or `max_expansions` configurations generated."""
    deadline = clock() + budget_s
    arrived = _Arrival(tables, targets)
    start = tuple(starts)
    root = _node(start, None, tables, arrived)
    stack = [root]
    explored = {start: root}
    expansions = 0
    goal: _Node | None = None
    limit = max_expansions
    while stack and clock() <= deadline and (limit is None or expansions < limit):
        node = stack[-1]
        if goal is None and all(arrived(node.configuration)):
            # Found. Search on as long again, shortening the way to it (LaCAM*).
            goal = node
            refined = expansions + max(expansions, MIN_REFINING)
            limit = refined if max_expansions is None else min(max_expansions, refined)
        if not node.constraints or (goal is not None and node.steps + 1 >= goal.steps):
            stack.pop()
            continue
        constraint = node.constraints.popleft()
        _branch(node, constraint, floor.adjacency, obstacles, rng)
        expansions += 1
        successor = pibt.step(
            floor,
            node.configuration,
            node.order,
            tables,
            rng,
            obstacles=obstacles,
            fixed=constraint.moves(),
        )
        if successor is None:
            continue
        configuration = tuple(successor.next)
        known = explored.get(configuration)
        if known is None:
            child = _node(configuration, node, tables, arrived)
            child.steps = node.steps + 1
            explored[configuration] = child
            node.successors.append(child)
            stack.append(child)
        else:
            node.successors.append(known)
            _shorten(node)
            stack.append(known)  # LaCAM*: revisit it, so the search does not stall here
    return SearchResult(None if goal is None else _path(goal), expansions)


def _shorten(start: _Node) -> None:
    """Propagate a way found through `start` to every node it makes nearer (Dijkstra over
    the successor links, each joint step costing one)."""
    queue = [(start.steps, 0, start)]
    tie = 1
    while queue:
        _, _, node = heapq.heappop(queue)
        for successor in node.successors:
            if node.steps + 1 < successor.steps:
                successor.steps = node.steps + 1
                successor.parent = node
                heapq.heappush(queue, (successor.steps, tie, successor))
                tie += 1


def _branch(
    node: _Node,
    constraint: _Constraint,
    adjacency: Sequence[Sequence[int]],
    obstacles: Collection[int],
    rng: random.Random,
) -> None:
    """Queue the constraint's children: the next agent in order fixed to each legal move
    (its own node, or a neighbour free at the start of the step)."""
    if constraint.depth >= len(node.order):
        return
    agent = node.order[constraint.depth]
    here = node.configuration[agent]
    occupied = node.configuration
    moves = [here] + [v for v in adjacency[here] if v not in obstacles and v not in occupied]
    rng.shuffle(moves)
    for move in moves:
        node.constraints.append(_Constraint(constraint, agent, move, constraint.depth + 1))


def _node(
    configuration: Configuration,
    parent: _Node | None,
    tables: Sequence[Table | None],
    arrived: _Arrival,
) -> _Node:
    """Priorities as in PIBT: one more for every step away from the goal, reset at it; the
    start's are the distances scaled into [0, 1), so that the farthest go first."""
    if parent is None:
        distances = [
            0.0 if table is None else min(table.item(v), 1e30)
            for table, v in zip(tables, configuration, strict=True)
        ]
        scale = max(distances, default=0.0) + 1.0
        priorities = [d / scale for d in distances]
    else:
        priorities = [
            p % 1.0 if there else p + 1.0
            for p, there in zip(parent.priorities, arrived(configuration), strict=True)
        ]
    order = sorted(range(len(configuration)), key=priorities.__getitem__, reverse=True)
    return _Node(configuration, parent, priorities, order)


@dataclass(frozen=True, slots=True)
class _Arrival:
    """Which agents of a configuration are within their targets."""

    tables: Sequence[Table | None]
    targets: Sequence[float]

    def __call__(self, configuration: Configuration) -> list[bool]:
        return [
            table is None or target == math.inf or table.item(v) <= target
            for table, target, v in zip(self.tables, self.targets, configuration, strict=True)
        ]


def _path(node: _Node) -> list[Configuration]:
    path: list[Configuration] = []
    link: _Node | None = node
    while link is not None:
        path.append(link.configuration)
        link = link.parent
    return path[::-1]
