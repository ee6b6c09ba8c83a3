"""The dispatcher's weights and thresholds, one frozen object per site."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DispatchPolicy:
    """Costs are in seconds of travel: every weight says how many seconds of driving one unit
    of something else is worth (controller/dispatch/cost.py has the formula)."""

    chargers: tuple[int, ...] = ()
    parking: tuple[int, ...] = ()

    # Battery, in percent of a full charge.
    battery_critical_pct: float = 15.0  # below it an unloaded AGV charges, whatever it was doing
    battery_low_pct: float = 30.0  # below it an idle AGV charges
    battery_resume_pct: float = 80.0  # a charging AGV may leave for work above it
    battery_reserve_pct: float = 5.0  # what a trip must leave on arrival at the nearest charger
    battery_pct_per_m: float = 0.01  # use per metre driven (1 % per 100 m)

    max_totes_per_trip: int = 4  # never more than this, whatever an AGV could carry

    # Cost weights (cost.py).
    wait_weight: float = 0.25  # s of driving a second of a task's waiting is worth
    urgency_weight: float = 2.0  # s of driving per second of slack under the horizon
    urgency_horizon_s: float = 300.0  # slack beyond this makes a task no more urgent
    late_weight: float = 1.0  # s of driving per second a pairing would deliver late
    priority_weight_s: float = 60.0  # s of driving one priority level is worth

    # Candidates (assignment.py): the K most urgent tasks, K = clamp(factor * AGVs, min, all).
    candidate_factor: float = 2.0
    min_candidates: int = 128

    # Several totes per trip (batching.py): a tote joins a trip when its detour costs at most
    # this many times its own drive from pickup to station.
    detour_ratio: float = 1.0

    # Parking near demand (parking.py).
    demand_window_s: float = 600.0  # tasks created this recently describe where demand is
    demand_points: int = 64  # at most this many recent pickups are weighed
    demand_weight: float = 1.0  # s of driving per second of expected drive to the next pickup

    def __post_init__(self) -> None:
        if not (
            self.battery_reserve_pct >= 0
            and self.battery_critical_pct <= self.battery_low_pct <= self.battery_resume_pct
        ):
            raise ValueError("battery thresholds must be reserve ≥ 0, critical ≤ low ≤ resume")
        if self.battery_pct_per_m < 0:
            raise ValueError("battery_pct_per_m must not be negative")
        if self.max_totes_per_trip < 1:
            raise ValueError("max_totes_per_trip must be at least 1")
        # A late task's credit must outgrow its lateness penalty, or a late task could be
        # passed over for ever (cost.py).
        if self.urgency_weight <= self.late_weight:
            raise ValueError("urgency_weight must exceed late_weight")
        if min(self.wait_weight, self.late_weight, self.priority_weight_s) < 0:
            raise ValueError("cost weights must not be negative")
        if self.wait_weight == 0:
            raise ValueError("wait_weight must be positive: it is what keeps tasks from starving")
        if self.candidate_factor < 1 or self.min_candidates < 1:
            raise ValueError("candidate_factor and min_candidates must be at least 1")
        if self.detour_ratio < 0 or self.demand_weight < 0:
            raise ValueError("detour_ratio and demand_weight must not be negative")
        if len(set(self.chargers)) != len(self.chargers):
            raise ValueError("chargers repeat a node")
        if len(set(self.parking)) != len(self.parking):
            raise ValueError("parking repeats a node")
