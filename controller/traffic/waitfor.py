"""Deadlock cycles in a wait-for graph where each AGV waits for at most one other.

With out-degree one the graph is functional: every walk either ends at an AGV that waits
for nobody or runs into a loop, so colouring the walks finds every cycle in linear time.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

A = TypeVar("A", bound=Hashable)

_ON_WALK = 1  # visited by the walk in progress: meeting it again closes a cycle
_DONE = 2  # visited by an earlier walk: its cycle, if any, is already reported


def wait_cycles(waits_for: Mapping[A, A]) -> list[tuple[A, ...]]:
    """Each cycle of `waits_for` (waiter → the one it waits for), in wait order: every
    member waits for the next, the last for the first. O(number of waiters)."""
    colour: dict[A, int] = {}
    cycles: list[tuple[A, ...]] = []
    for start in waits_for:
        if start in colour:
            continue
        walk: list[A] = []
        agv: A | None = start
        while agv is not None and agv not in colour:
            colour[agv] = _ON_WALK
            walk.append(agv)
            agv = waits_for.get(agv)
        if agv is not None and colour[agv] == _ON_WALK:
            cycles.append(tuple(walk[walk.index(agv) :]))
        for visited in walk:
            colour[visited] = _DONE
    return cycles
