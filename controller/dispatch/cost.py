"""What pairing an AGV with a task costs, in seconds of driving.

    cost(i, j) = eta(i, j) + late_weight · lateness(i, j) - credit(j)

eta(i, j)       AGV i's empty drive to task j's pickup: distance / speed.
lateness(i, j)  seconds past j's due time at which AGV i, leaving now, would drop it
                (0 when on time or when j has no due time). Among AGVs it sends a task that
                is, or is about to be, late to the one that delivers it soonest.
credit(j)       what serving j now, rather than leaving it for a later tick, is worth:
                    wait_weight · age(j)
                  + urgency_weight · max(0, urgency_horizon_s - slack(j))
                  + priority_weight_s · priority(j)
                slack(j) = due - now - carry time at the fleet's median speed: how long j can
                still wait before it must leave its pickup. The urgency term is 0 while the
                slack exceeds the horizon, then grows linearly, and keeps growing after the
                due time has passed: monotone non-increasing in slack. Among tasks it decides
                which are served when there are more tasks than AGVs.

Why the credit: a late or old task left waiting costs more than one served now, so serving
it earns a credit; with a plain "late costs more" the assignment would pass an urgent task
over for an easy one and it would only get later. `urgency_weight > late_weight`
(policy.py) makes a task that is already late more attractive with every second, and the
age term does the same for every task, so none starves: a task older than the others by
more than (the floor's longest drive) / wait_weight wins over any of them.

Feasibility: AGV i may take task j only if it can drive to the pickup, then to the
station, then to the station's nearest charger and still keep the battery reserve:
approach + carry + home ≤ range. Infeasible pairs cost +inf; the solver never uses them.
"""

from __future__ import annotations

import numpy as np

from controller.dispatch.fleet import Workers
from controller.dispatch.geometry import TripGeometry
from controller.dispatch.policy import DispatchPolicy
from controller.dispatch.tasks import TaskArrays


def task_credit(
    tasks: TaskArrays,
    carry_m: np.ndarray,
    now_s: float,
    reference_speed: float,
    policy: DispatchPolicy,
) -> np.ndarray:
    """credit(j) for every task, in seconds of driving (see the module's docstring)."""
    age = np.maximum(now_s - tasks.created_s, 0.0)
    credit = policy.wait_weight * age + policy.priority_weight_s * tasks.priority
    has_due = ~np.isnan(tasks.due_s)
    if has_due.any():
        slack = tasks.due_s[has_due] - now_s - carry_m[has_due] / reference_speed
        credit[has_due] += policy.urgency_weight * np.maximum(policy.urgency_horizon_s - slack, 0.0)
    return credit


def pair_costs(
    workers: Workers,
    tasks: TaskArrays,
    geometry: TripGeometry,
    credit: np.ndarray,
    now_s: float,
    policy: DispatchPolicy,
) -> np.ndarray:
    """cost(i, j) for every worker i and task j, float64 [workers, K]; +inf where infeasible."""
    approach = geometry.approach
    speed = workers.speed[:, None]
    cost = approach / speed  # eta; then turned into the cost in place (250k pairs: passes count)
    due_in = tasks.due_s - now_s
    # Only tasks that some AGV would deliver late need the lateness term.
    slowest_drop = cost.max(axis=0) + geometry.carry / workers.speed.min()
    may_be_late = np.flatnonzero(slowest_drop > due_in)  # nan (no due time) compares False
    if len(may_be_late):
        drop_s = cost[:, may_be_late] + geometry.carry[may_be_late][None, :] / speed
        lateness = np.maximum(drop_s - due_in[may_be_late][None, :], 0.0)
        cost[:, may_be_late] += policy.late_weight * lateness
    cost -= credit[None, :]
    tail_m = geometry.carry + geometry.home[tasks.station_index]
    reach_m = workers.range_m[:, None] - tail_m[None, :]  # how far each may drive to the pickup
    np.copyto(cost, np.inf, where=~(approach <= reach_m))  # also where a distance is inf
    result: np.ndarray = cost
    return result
