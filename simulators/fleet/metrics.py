"""What a fleet simulation run measured, and its summary."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(slots=True)
class RunMetrics:
    """Accumulated step by step by `FleetSim`."""

    steps: int = 0
    delivered: int = 0
    trips: int = 0  # task trips dispatched
    metres: float = 0.0
    metres_empty: float = 0.0
    cycle_s: list[float] = field(default_factory=list)  # task created -> tote delivered
    plan_ms: list[float] = field(default_factory=list)
    dispatch_ms: list[float] = field(default_factory=list)
    kernel_ms: list[float] = field(default_factory=list)
    tick_ms: list[float] = field(default_factory=list)
    intake_ms: list[float] = field(default_factory=list)  # new tasks' tables, off the tick
    conflicts: int = 0  # ground truth: two AGVs on a node, or swapping along an edge
    violations: Counter[str] = field(default_factory=Counter)  # the kernel's, by kind
    longest_stall_ticks: int = 0  # consecutive ticks one AGV was reported stalled
    flat_batteries: int = 0
    returned_tasks: int = 0

    def summary(self, step_s: float = 1.0) -> Summary:
        hours = self.steps * step_s / 3600.0
        return Summary(
            hours=hours,
            delivered=self.delivered,
            totes_per_h=self.delivered / hours if hours else 0.0,
            trips_per_h=self.trips / hours if hours else 0.0,
            empty_share=self.metres_empty / self.metres if self.metres else 0.0,
            cycle_p50_s=percentile(self.cycle_s, 50),
            cycle_p95_s=percentile(self.cycle_s, 95),
            plan_ms=_spread(self.plan_ms),
            dispatch_ms=_spread(self.dispatch_ms),
            tick_ms=_spread(self.tick_ms),
            intake_ms=_spread(self.intake_ms),
            conflicts=self.conflicts,
            double_allocations=self.violations["double_allocation"],
            deadlocks=self.violations["deadlock"],
            stalls=self.violations["stall"],
            longest_stall_ticks=self.longest_stall_ticks,
            flat_batteries=self.flat_batteries,
        )


@dataclass(frozen=True, slots=True)
class Spread:
    p50: float
    p95: float
    max: float


@dataclass(frozen=True, slots=True)
class Summary:
    hours: float
    delivered: int
    totes_per_h: float
    trips_per_h: float
    empty_share: float
    cycle_p50_s: float
    cycle_p95_s: float
    plan_ms: Spread
    dispatch_ms: Spread
    tick_ms: Spread
    intake_ms: Spread  # per step with arrivals
    conflicts: int
    double_allocations: int
    deadlocks: int
    stalls: int  # stall reports: one per tick per stalled AGV
    longest_stall_ticks: int
    flat_batteries: int


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def _spread(values: Sequence[float]) -> Spread:
    return Spread(percentile(values, 50), percentile(values, 95), max(values, default=math.nan))
