"""What the dispatcher is shown each tick: the fleet and the waiting pick tasks, as data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AgvSnapshot:
    """One AGV as it stands now. `available`: idle and dispatchable (read only when the AGV is
    not charging; a charging AGV is judged by its battery). `capacity` and `carrying` in totes."""

    id: str
    node: int
    battery_pct: float
    capacity: int
    carrying: int
    available: bool
    charging: bool
    speed_mps: float

    def __post_init__(self) -> None:
        if self.speed_mps <= 0 or self.capacity < 0 or self.carrying < 0:
            raise ValueError(
                f"AGV {self.id}: speed must be positive, capacity and load not negative"
            )


@dataclass(frozen=True, slots=True)
class PickTask:
    """A tote to fetch from its rack face (`pickup`) to a station (`dropoff`). The caller shows
    only tasks still waiting for an AGV; `priority`: higher is more urgent (0-9, as orders)."""

    id: str
    pickup: int
    dropoff: int
    created_s: float
    due_s: float | None = None
    priority: int = 0
