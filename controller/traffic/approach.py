"""Keeping the approach to a busy stop clear.

Stations and chargers are pockets off a lane: one way in, one way out. When many AGVs are
bound for one station they all press towards its mouth, and the AGV inside can no longer
come out: the planner cannot swap two AGVs through a crowd, and its fallback search
rarely untangles one within its budget. So at most `ADMITTED` AGVs bound for one stop
drive up to it at a time, the nearest (the one working there counts). The others, once
within `HOLD_M` of it, are given no goal: they stop where they are and make way when
asked, until their turn comes.

An AGV whose stop cannot be reached at all for now (behind a closed aisle, or a failed
AGV at a station's mouth) waits at a refuge (the nearest parking node) until it can: with
no goal at all it would stay where it is, and where it is may be another station's
pocket, which it would then close for as long as the way stays shut.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from controller.traffic.ids import AgvId

ADMITTED = 3  # the AGV at the stop, the next at its mouth, and one on its way
# Nearer than this, an AGV not admitted waits. Far enough that the waiting ones leave the
# mouth and the lanes beside it free, near enough that the next one is admitted a few
# seconds' drive away. Measured: holding all of them wherever they were halved the
# deliveries of 500 AGVs on 42k nodes (each admitted one then drove up from afar); within
# 5 m, the queue's tail blocked the lanes around the station in the soak (stalls of
# minutes); 10 m and 20 m deliver alike on 7k and 42k nodes, 20 m stalls least.
HOLD_M = 20.0


@dataclass(frozen=True, slots=True)
class Bound:
    """An AGV heading for the stop at `goal` (None: for nowhere), standing at `node`."""

    agv_id: AgvId
    node: int
    goal: int | None


def planner_goals(
    bound: Iterable[Bound],
    distance: Callable[[int, int], float],
    refuge: Callable[[int], int | None],
) -> dict[AgvId, int | None]:
    """Each AGV's goal for the planner this tick: its stop, a refuge while its stop is cut
    off, or None while it waits its turn. `distance(node, goal)`: metres from node to
    goal; `refuge(node)`: where to wait out of the way from there (None: nowhere)."""
    goals: dict[AgvId, int | None] = {}
    by_stop: dict[int, list[Bound]] = {}
    for agv in bound:
        if agv.goal is None:
            goals[agv.agv_id] = None
            continue
        if math.isinf(distance(agv.node, agv.goal)):
            goals[agv.agv_id] = refuge(agv.node)
            continue
        goals[agv.agv_id] = agv.goal
        by_stop.setdefault(agv.goal, []).append(agv)
    for stop, queue in by_stop.items():
        if len(queue) <= ADMITTED:
            continue
        ranked = sorted(queue, key=lambda agv: (distance(agv.node, stop), agv.agv_id))
        for agv in ranked[ADMITTED:]:
            if distance(agv.node, stop) <= HOLD_M:
                goals[agv.agv_id] = None
    return goals
