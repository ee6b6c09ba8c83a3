"""The dispatchers a fleet simulation compares, by name, each built on the run's floor."""

from __future__ import annotations

from collections.abc import Callable

from controller.dispatch import (
    Dispatcher,
    DispatchPolicy,
    DistanceBlindGreedy,
    MinCostDispatcher,
    NearestIdleGreedy,
)
from controller.traffic.floor import CompiledFloor
from simulators.fleet.world import WorldConfig

DISPATCHERS: dict[str, Callable[[CompiledFloor, DispatchPolicy], Dispatcher]] = {
    "ours": MinCostDispatcher,  # min-cost assignment, several totes per trip, parking
    "blind": DistanceBlindGreedy,  # openTCS's default: the first free AGV, however far
    "nearest": NearestIdleGreedy,  # the free AGV nearest the pickup
}


def policy_for(floor: CompiledFloor, world: WorldConfig) -> DispatchPolicy:
    """The site's chargers and parking, and the world's battery use per metre."""
    return DispatchPolicy(
        chargers=floor.goals("charger"),
        parking=floor.goals("parking"),
        battery_pct_per_m=world.drain_pct_per_m,
    )


def build_dispatcher(name: str, floor: CompiledFloor, world: WorldConfig) -> Dispatcher:
    return DISPATCHERS[name](floor, policy_for(floor, world))
