"""The min-cost assignment: optimal against brute force, never an infeasible pair, and costs
that follow cost.py's formula."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from controller.dispatch import DispatchPolicy, MinCostDispatcher
from controller.dispatch.assignment import by_urgency, candidate_count, min_cost_pairs
from tests.unit.dispatch.floors import DirectedFloor, GridFloor, agv, task


def brute_force(cost: np.ndarray) -> tuple[int, float]:
    """The most feasible pairs any full pairing of the smaller side can have, and the least
    total cost among pairings with that many (what min_cost_pairs promises)."""
    n, k = cost.shape
    best = (0, 0.0)
    if n <= k:
        orders = itertools.permutations(range(k), n)
        pairings = (zip(range(n), cols, strict=True) for cols in orders)
    else:
        orders = itertools.permutations(range(n), k)
        pairings = (zip(rows, range(k), strict=True) for rows in orders)
    for pairing in pairings:
        values = [cost[r, c] for r, c in pairing if math.isfinite(cost[r, c])]
        candidate = (len(values), sum(values))
        if candidate[0] > best[0] or (candidate[0] == best[0] and candidate[1] < best[1]):
            best = candidate
    return best


@pytest.mark.parametrize("seed", range(60))
def test_min_cost_pairs_equal_brute_force_on_random_instances(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = rng.integers(1, 6, size=2)
    cost = rng.uniform(-50, 100, (n, k))
    cost[rng.random((n, k)) < rng.uniform(0, 0.6)] = np.inf

    rows, cols = min_cost_pairs(cost)

    assert np.isfinite(cost[rows, cols]).all()
    assert len(set(rows.tolist())) == len(rows)
    assert len(set(cols.tolist())) == len(cols)
    pairs, total = brute_force(cost)
    assert len(rows) == pairs
    assert cost[rows, cols].sum() == pytest.approx(total)


def test_a_matrix_with_no_feasible_pair_assigns_nothing() -> None:
    rows, cols = min_cost_pairs(np.full((3, 2), np.inf))
    assert len(rows) == len(cols) == 0


@pytest.mark.parametrize("seed", range(15))
def test_the_dispatcher_assignment_equals_brute_force_over_its_costs(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    floor = GridFloor(12, 8)
    charger = floor.node(0, 0)
    policy = DispatchPolicy(chargers=(charger,), battery_pct_per_m=0.5, battery_reserve_pct=0)
    agvs = [
        agv(f"a{i}", int(rng.integers(0, 96)), battery=float(rng.uniform(10, 100)))
        for i in range(int(rng.integers(1, 5)))
    ]
    tasks = [
        task(
            f"t{j}",
            int(rng.integers(0, 96)),
            floor.node(11, 7),
            created=float(rng.uniform(0, 50)),
            due=float(rng.uniform(60, 200)) if rng.random() < 0.5 else None,
        )
        for j in range(int(rng.integers(1, 6)))
    ]
    done = MinCostDispatcher(floor, policy).planner.assign(agvs, tasks, now_s=60.0)

    assert np.isfinite(done.cost[done.rows, done.cols]).all()
    pairs, total = brute_force(done.cost)
    assert len(done.rows) == pairs
    assert done.cost[done.rows, done.cols].sum() == pytest.approx(total)


def test_costs_follow_the_documented_formula_on_a_one_way_floor() -> None:
    floor = DirectedFloor(nodes=40, chords=60, seed=3)
    d = floor.all_pairs  # [a, b]: from a to b
    chargers = (5, 17)
    policy = DispatchPolicy(chargers=chargers, battery_pct_per_m=0.2, battery_reserve_pct=2)
    agvs = [
        agv("a", 0, battery=60, speed=1.5),
        agv("b", 11, battery=95, speed=1.0),
        agv("c", 23, battery=14, speed=2.0),
    ]
    tasks = [
        task("t1", 30, 8, created=10.0),
        task("t2", 12, 8, created=40.0, due=70.0, priority=2),
        task("t3", 2, 33, created=0.0, due=500.0),
        task("t4", 19, 33, created=55.0, due=45.0),
    ]
    now = 60.0
    done = MinCostDispatcher(floor, policy).planner.assign(agvs, tasks, now)

    median_speed = 1.5
    for i, a in enumerate(agvs):
        for j, t in enumerate(done.candidates.tasks[: done.cost.shape[1]]):
            approach, carry = d[a.node, t.pickup], d[t.pickup, t.dropoff]
            home = min(d[t.dropoff, c] for c in chargers)
            reach = (a.battery_pct - policy.battery_reserve_pct) / policy.battery_pct_per_m
            if approach + carry + home > reach:
                assert done.cost[i, j] == np.inf
                continue
            credit = policy.wait_weight * (now - t.created_s)
            credit += policy.priority_weight_s * t.priority
            lateness = 0.0
            if t.due_s is not None:
                slack = t.due_s - now - carry / median_speed
                credit += policy.urgency_weight * max(0.0, policy.urgency_horizon_s - slack)
                lateness = max(0.0, now + (approach + carry) / a.speed_mps - t.due_s)
            expected = approach / a.speed_mps + policy.late_weight * lateness - credit
            assert done.cost[i, j] == pytest.approx(expected, rel=1e-5, abs=1e-3)
    assert 0 < np.isinf(done.cost).sum() < done.cost.size  # both kinds of pair were checked


def test_candidates_are_the_most_urgent_tasks_and_k_is_clamped() -> None:
    policy = DispatchPolicy(candidate_factor=2.0, min_candidates=3)
    assert candidate_count(workers=1, tasks=10, policy=policy) == 3
    assert candidate_count(workers=4, tasks=10, policy=policy) == 8
    assert candidate_count(workers=40, tasks=10, policy=policy) == 10
    credit = np.array([5.0, 1.0, 9.0, 7.0, 3.0])
    assert by_urgency(credit, 2).tolist() == [2, 3]
    assert by_urgency(credit, 9).tolist() == [2, 3, 0, 4, 1]


def test_with_many_more_tasks_than_agvs_only_urgent_ones_are_considered() -> None:
    floor = GridFloor(30)
    policy = DispatchPolicy(min_candidates=2, candidate_factor=1.0)
    # The near task is the newest: outside the 2 most urgent (oldest) tasks.
    tasks = [task("near", 1, 29, created=100.0)] + [
        task(f"old{i}", 20 + i, 29, created=float(i)) for i in range(2)
    ]
    decisions = MinCostDispatcher(floor, policy).decide([agv("a", 0)], tasks, now_s=100.0)
    assert decisions.assigned_task_ids() in (["old0"], ["old1"])


@pytest.mark.parametrize("seed", range(20))
def test_a_near_square_rectangle_is_solved_as_well_as_unpadded(seed: int) -> None:
    """min_cost_pairs pads a near-square rectangle with rows that leave a column unassigned
    at no cost; the best total must be the one of the plain rectangle."""
    rng = np.random.default_rng(500 + seed)
    n = int(rng.integers(4, 7))
    cost = rng.uniform(-50, 100, (n, n + 1))
    if seed % 2:
        cost[rng.random(cost.shape) < 0.3] = np.inf

    rows, cols = min_cost_pairs(cost)

    assert np.isfinite(cost[rows, cols]).all()
    assert len(set(cols.tolist())) == len(cols)
    pairs, total = brute_force(cost)
    assert len(rows) == pairs
    assert cost[rows, cols].sum() == pytest.approx(total)


def test_a_large_near_square_rectangle_costs_what_the_plain_solver_finds() -> None:
    rng = np.random.default_rng(7)
    cost = rng.uniform(-500, 300, (45, 50)) + rng.uniform(0, 1000, 50)[None, :]

    rows, cols = min_cost_pairs(cost)

    plain_rows, plain_cols = linear_sum_assignment(cost)
    assert len(rows) == 45
    assert cost[rows, cols].sum() == pytest.approx(cost[plain_rows, plain_cols].sum())
