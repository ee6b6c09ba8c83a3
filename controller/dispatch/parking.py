"""Parking idle AGVs near where demand has been, one AGV per parking node.

Where demand is: the pickups of the tasks created in the last `demand_window_s` (at most the
latest `demand_points`). A parking node's demand distance is the mean drive from it to
those pickups: how far its AGV can expect to drive empty to the next task if demand keeps
its shape. Idle AGVs go to free parking nodes by a min-cost assignment of

    drive to the parking node / AGV speed + demand_weight · demand distance / median speed

so the nodes nearest demand fill first, each from a near AGV. An AGV parked (or on its way)
stays until it is given work or a charger; an idle AGV found on a free parking node keeps
it. A parking node counts as taken only by the AGV given it, not by AGVs driving through.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from controller.dispatch.assignment import min_cost_pairs
from controller.dispatch.decisions import SendToPark
from controller.dispatch.geometry import between
from controller.dispatch.policy import DispatchPolicy
from controller.dispatch.ports import DistanceTables
from controller.dispatch.snapshots import AgvSnapshot, PickTask


class DemandMemory:
    """The pickups of the latest tasks created within the window, remembered after the
    tasks are served (the dispatcher only sees tasks while they wait)."""

    def __init__(self, policy: DispatchPolicy) -> None:
        self._policy = policy
        self._seen: dict[str, tuple[float, int]] = {}  # task id → (created_s, pickup)

    def observe(self, tasks: Sequence[PickTask], now_s: float) -> None:
        full = len(self._seen) >= self._policy.demand_points
        oldest_kept = min((seen[0] for seen in self._seen.values()), default=-np.inf)
        for task in tasks:
            if full and task.created_s <= oldest_kept:
                continue  # older than all it keeps: it would be dropped again at once
            if task.id not in self._seen:
                self._seen[task.id] = (task.created_s, task.pickup)
        self._keep_latest(now_s)

    def recent_pickups(self, now_s: float) -> np.ndarray:
        self._keep_latest(now_s)
        return np.array([pickup for _, pickup in self._seen.values()], dtype=np.int64)

    def _keep_latest(self, now_s: float) -> None:
        since = now_s - self._policy.demand_window_s
        recent = [(seen, task_id) for task_id, seen in self._seen.items() if seen[0] >= since]
        recent.sort(reverse=True)
        self._seen = {task_id: seen for seen, task_id in recent[: self._policy.demand_points]}


class ParkingBook:
    """Which AGV holds which parking node (see the module's docstring)."""

    def __init__(self, policy: DispatchPolicy, tables: DistanceTables):
        self._policy = policy
        self._tables = tables
        self._parking = np.array(policy.parking, dtype=np.int64)
        self._claims: dict[str, int] = {}  # AGV id → its parking node

    def release(self, agv_id: str) -> None:
        self._claims.pop(agv_id, None)

    def forget_departed(self, agvs: Sequence[AgvSnapshot]) -> None:
        """Claims of AGVs gone from the fleet, charging or loaded are dropped."""
        by_id = {agv.id: agv for agv in agvs}
        for agv_id in list(self._claims):
            agv = by_id.get(agv_id)
            if agv is None or agv.charging or agv.carrying > 0:
                del self._claims[agv_id]

    def plan(self, idle: Sequence[AgvSnapshot], recent_pickups: np.ndarray) -> list[SendToPark]:
        """Park those of the `idle` AGVs (given nothing else this tick) that hold no node."""
        if len(self._parking) == 0:
            return []
        sent = self._settle_where_they_stand(idle)
        unparked = [agv for agv in idle if agv.id not in self._claims]
        if not unparked:
            return sent
        taken = set(self._claims.values())
        wanderers = []
        for agv in unparked:
            if agv.node in self._parking and agv.node not in taken:
                self._claims[agv.id] = agv.node  # already there: it stays
                taken.add(agv.node)
            else:
                wanderers.append(agv)
        free = self._parking[~np.isin(self._parking, list(taken))]
        if not wanderers or len(free) == 0:
            return sent
        nodes = np.array([agv.node for agv in wanderers], dtype=np.int64)
        speed = np.array([agv.speed_mps for agv in wanderers])
        cost = between(self._tables, free, nodes).T / speed[:, None]
        if len(recent_pickups) and self._policy.demand_weight > 0:
            demand_m = _mean_reachable(between(self._tables, recent_pickups, free))
            cost += self._policy.demand_weight * demand_m[None, :] / float(np.median(speed))
        rows, cols = min_cost_pairs(cost)
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            agv, node = wanderers[row], int(free[col])
            self._claims[agv.id] = node
            sent.append(SendToPark(agv.id, node))
        return sent

    def _settle_where_they_stand(self, idle: Sequence[AgvSnapshot]) -> list[SendToPark]:
        """An idle AGV standing on a parking node parks there, even if it was bound for
        another: it was pushed aside on its way. Whoever had claimed that node, and is not
        on it, parks elsewhere. Without this, two AGVs bound for each other's node in a
        dead-end row of parking (one way in) can never pass."""
        parking = set(self._parking.tolist())
        standing = {agv.node: agv.id for agv in idle if agv.node in parking}
        # Those bound elsewhere; one not bound anywhere is parked where it is by `plan`.
        astray = {a for n, a in standing.items() if self._claims.get(a) not in (None, n)}
        sent = []
        for node, agv_id in standing.items():
            if agv_id not in astray:
                continue
            for other, claimed in list(self._claims.items()):
                if claimed == node and standing.get(node) != other:
                    del self._claims[other]
            self._claims[agv_id] = node
            sent.append(SendToPark(agv_id, node))
        return sent


def _mean_reachable(distances: np.ndarray) -> np.ndarray:
    """Column means over the finite entries (inf for a column with none)."""
    reachable = np.isfinite(distances)
    count = reachable.sum(axis=0)
    total = np.where(reachable, distances, 0.0).sum(axis=0, dtype=np.float64)
    mean: np.ndarray = np.divide(total, count, out=np.full(len(count), np.inf), where=count > 0)
    return mean
