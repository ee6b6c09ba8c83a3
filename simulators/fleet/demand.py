"""Seeded tote demand: each task fetches one tote from a rack face to a station, where the
tote is consumed.

Saturated (the benchmark's mode): the open backlog is topped up every step to `backlog`
tasks, so the fleet is never short of work and throughput measures the fleet, not the
demand. Otherwise tasks arrive as a Poisson stream at `per_hour`.

Rack faces are drawn uniformly, or skewed ABC (`abc=True`): the faces nearest a station
are the fast movers, as a slotting policy would place them.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# ABC: (share of the faces, share of the picks), nearest the stations first.
ABC_CLASSES = ((0.2, 0.6), (0.3, 0.3), (0.5, 0.1))


@dataclass(frozen=True, slots=True)
class ToteRequest:
    id: str
    pickup: int  # rack face node
    dropoff: int  # station node
    created_s: float


class DemandSource(Protocol):
    def arrivals(self, now_s: float, open_count: int) -> list[ToteRequest]:
        """The tasks created at `now_s`, given how many are still open (on no trip)."""
        ...


class Demand:
    def __init__(
        self,
        racks: Sequence[int],
        stations: Sequence[int],
        rng: random.Random,
        *,
        backlog: int | None = None,
        per_hour: float | None = None,
        abc_by_distance: Sequence[float] | None = None,
    ) -> None:
        """`backlog`: saturated mode. `per_hour`: Poisson arrivals. `abc_by_distance`:
        each rack face's distance to its nearest station, to skew picks ABC."""
        if (backlog is None) == (per_hour is None):
            raise ValueError("give either a backlog (saturated) or an arrival rate")
        self._racks = list(racks)
        self._stations = list(stations)
        self._rng = rng
        self._backlog = backlog
        self._per_s = None if per_hour is None else per_hour / 3600.0
        self._numbers = itertools.count(1)
        self._weights: list[float] | None = None
        if abc_by_distance is not None:
            self._weights = _abc_cumulative(self._racks, abc_by_distance)

    def arrivals(self, now_s: float, open_count: int) -> list[ToteRequest]:
        """The tasks created at `now_s`, given how many are still open (unassigned)."""
        if self._backlog is not None:
            count = max(0, self._backlog - open_count)
        else:
            assert self._per_s is not None
            count = _poisson(self._rng, self._per_s)
        return [self._one(now_s) for _ in range(count)]

    def _one(self, now_s: float) -> ToteRequest:
        if self._weights is None:
            pickup = self._rng.choice(self._racks)
        else:
            at = bisect.bisect_left(self._weights, self._rng.random() * self._weights[-1])
            pickup = self._racks[min(at, len(self._racks) - 1)]
        return ToteRequest(
            f"T{next(self._numbers):06d}", pickup, self._rng.choice(self._stations), now_s
        )


def _abc_cumulative(racks: list[int], distance: Sequence[float]) -> list[float]:
    """Cumulative pick weights: class shares spread evenly over each class's faces."""
    order = sorted(range(len(racks)), key=lambda i: (distance[i], racks[i]))
    weight = [0.0] * len(racks)
    start = 0
    for k, (face_share, pick_share) in enumerate(ABC_CLASSES):
        end = len(order) if k == len(ABC_CLASSES) - 1 else start + round(face_share * len(order))
        members = order[start:end]
        for i in members:
            weight[i] = pick_share / max(1, len(members))
        start = end
    return list(itertools.accumulate(weight))


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: the means here are far below one per step."""
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        count += 1
        product *= rng.random()
    return count
