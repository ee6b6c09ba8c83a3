"""What the reservation kernel reports when a safety invariant is broken or threatened."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum

from controller.traffic.ids import AgvId, Edge


class ViolationKind(Enum):
    # Ownership (check invariant 1): the owner maps and the allocations must agree.
    DOUBLE_ALLOCATION = "double_allocation"  # one node or edge in two AGVs' allocations
    OWNER_MISMATCH = "owner_mismatch"  # owner map and allocations disagree otherwise
    # Position (check invariant 2).
    CURRENT_NOT_HELD = "current_not_held"  # an AGV's allocation lost its last confirmed node
    # Liveness (check invariants 3 and 4).
    DEADLOCK = "deadlock"  # a wait-for cycle; `agvs` in wait order, the one to yield first
    STALL = "stall"  # no progress for longer than STALL_S with its goal reachable
    # Reported when they happen, by the call that found them.
    PLACE_CONFLICT = "place_conflict"  # an AGV appeared on a node another AGV holds
    CONFIRM_NOT_HELD = "confirm_not_held"  # an AGV reported a node it was never granted
    BLOCKED_HELD_AHEAD = "blocked_held_ahead"  # a blocked node / closed edge in a granted base


@dataclass(frozen=True, slots=True)
class Violation:
    kind: ViolationKind
    agvs: tuple[AgvId, ...] = ()
    nodes: tuple[int, ...] = ()
    edges: tuple[Edge, ...] = ()


class ViolationCounter:
    """How many violations of each kind were reported: every report counts, so a stall that
    lasts ten ticks counts ten times."""

    def __init__(self) -> None:
        self._counts: Counter[ViolationKind] = Counter()

    def add(self, violations: list[Violation]) -> list[Violation]:
        self._counts.update(v.kind for v in violations)
        return violations

    def counts(self) -> dict[ViolationKind, int]:
        return dict(self._counts)
