"""Faults injected into a fleet simulation at given steps."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AgvFailure:
    """The AGV stops dead at step `at`, for `steps` steps (None: for good)."""

    agv_id: str
    at: int
    steps: int | None = None


@dataclass(frozen=True, slots=True)
class EdgeClosure:
    """The edges (an aisle, cell by cell) close at step `at`, for `steps` (None: for good)."""

    edges: tuple[tuple[int, int], ...]
    at: int
    steps: int | None = None


Fault = AgvFailure | EdgeClosure
