"""Which tasks are candidates this tick, and the min-cost assignment of AGVs to them."""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment

from controller.dispatch.policy import DispatchPolicy

# Fewer rows than columns but at least this share: padded to a square (min_cost_pairs).
# Measured (benchmarks/dispatch_assignment.py --agvs 450-495 --tasks 500): 2-4x faster
# than the unreduced rectangle; at 300 x 500 the padding makes it slower.
NEAR_SQUARE = 0.8


def candidate_count(workers: int, tasks: int, policy: DispatchPolicy) -> int:
    """K = clamp(candidate_factor * workers, min_candidates, tasks).

    The assignment serves at most one task per AGV, so a few times as many candidates as
    AGVs leaves it room to prefer near tasks over far ones of similar urgency. More costs
    solver time that grows faster than the matrix (benchmarks/dispatch_assignment.py); the
    floor of `min_candidates` keeps the choice wide when only a few AGVs are free, as in a
    busy steady state. (The multi-tote step draws from K plus the fleet's spare room.)
    """
    wanted = max(math.ceil(policy.candidate_factor * workers), policy.min_candidates)
    return min(tasks, wanted)


def by_urgency(credit: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` largest credits, largest first."""
    if count < len(credit):
        top = np.argpartition(-credit, count - 1)[:count]
    else:
        top = np.arange(len(credit))
    return top[np.argsort(-credit[top], kind="stable")]


def min_cost_pairs(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a min-cost assignment over the finite entries of `cost`.

    The assignment pairs as many rows with columns as the feasible (finite) entries allow,
    and among those pairings takes the cheapest: infeasible entries are given one cost
    larger than any difference the feasible ones can make, so the solver uses one only when
    no pairing of that size avoids it, and such pairs are then dropped from the answer.
    """
    finite = np.isfinite(cost)
    if finite.all():
        rows, cols, sub = np.arange(cost.shape[0]), np.arange(cost.shape[1]), cost
    else:
        rows = np.flatnonzero(finite.any(axis=1))
        cols = np.flatnonzero(finite.any(axis=0))
        sub, finite = cost[np.ix_(rows, cols)], finite[np.ix_(rows, cols)]
        low = float(np.min(sub, where=finite, initial=np.inf))
        high = float(np.max(sub, where=finite, initial=-np.inf))
        pairs = min(len(rows), len(cols))
        sub = np.where(finite, sub, high + (high - low + 1.0) * (pairs + 1))
    if len(rows) == 0 or len(cols) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    n = len(rows)
    if n < len(cols) and n >= NEAR_SQUARE * len(cols):
        # A row per column left unassigned, at cost 0: the same pairings with the same
        # totals, but now every column is assigned, so the reduction below applies.
        sub = np.vstack([sub, np.zeros((len(cols) - n, len(cols)))])
        finite = np.vstack([finite, np.ones((len(cols) - n, len(cols)), dtype=bool)])
    if len(sub) >= len(cols):
        # Every column is assigned, so taking a constant off a column changes every
        # assignment's total alike; taking each column's least feasible cost makes the
        # solver's work several times shorter when the columns carry different credits.
        sub = sub - np.min(sub, axis=0, where=finite, initial=np.inf)[None, :]
    r, c = linear_sum_assignment(sub)
    keep = (r < n) & finite[r, c]
    return rows[r[keep]], cols[c[keep]]
