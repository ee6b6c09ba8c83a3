"""Which AGVs may take work, need a charger or may park, and the fleet as arrays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from controller.dispatch.policy import DispatchPolicy
from controller.dispatch.snapshots import AgvSnapshot


def free_capacity(agv: AgvSnapshot, policy: DispatchPolicy) -> int:
    return max(0, min(agv.capacity - agv.carrying, policy.max_totes_per_trip))


def can_work(agv: AgvSnapshot, policy: DispatchPolicy) -> bool:
    """A charging AGV leaves for work once above `resume` (whatever `available` says: leaving
    the charger is part of its trip); any other AGV when available and not critical."""
    if free_capacity(agv, policy) == 0:
        return False
    if agv.charging:
        return agv.battery_pct >= policy.battery_resume_pct
    return agv.available and agv.battery_pct >= policy.battery_critical_pct


def needs_charge(agv: AgvSnapshot, policy: DispatchPolicy) -> bool:
    """Critical at any time, or low while idle; never with a tote on board (it delivers
    first) and never when already charging."""
    if agv.charging or agv.carrying > 0:
        return False
    if agv.battery_pct < policy.battery_critical_pct:
        return True
    return agv.available and agv.battery_pct < policy.battery_low_pct


def idle(agv: AgvSnapshot) -> bool:
    """Standing with nothing to do: may be parked."""
    return agv.available and not agv.charging and agv.carrying == 0


def range_m(battery_pct: np.ndarray, policy: DispatchPolicy) -> np.ndarray:
    """How far each AGV may still drive and keep the reserve."""
    usable = np.maximum(battery_pct - policy.battery_reserve_pct, 0.0)
    if policy.battery_pct_per_m == 0:
        return np.full_like(usable, np.inf)
    return usable / policy.battery_pct_per_m


@dataclass(frozen=True)
class Workers:
    """The AGVs that may take a trip this tick, as parallel arrays."""

    agvs: tuple[AgvSnapshot, ...]
    nodes: np.ndarray  # int64
    speed: np.ndarray  # m/s
    range_m: np.ndarray  # metres each may drive before it must be at a charger
    free_capacity: np.ndarray  # totes

    @classmethod
    def of(cls, agvs: Sequence[AgvSnapshot], policy: DispatchPolicy) -> Workers:
        battery = np.array([agv.battery_pct for agv in agvs], dtype=np.float64)
        return cls(
            agvs=tuple(agvs),
            nodes=np.array([agv.node for agv in agvs], dtype=np.int64),
            speed=np.array([agv.speed_mps for agv in agvs], dtype=np.float64),
            range_m=range_m(battery, policy),
            free_capacity=np.array([free_capacity(agv, policy) for agv in agvs], dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.agvs)

    def reference_speed(self) -> float:
        """The speed a task's slack is judged at before an AGV is chosen for it."""
        return float(np.median(self.speed)) if len(self.agvs) else 1.0
