"""Grid floors for the traffic tests, drawn as ASCII: `#` a wall, `.` a free cell, a letter or
digit a free cell with that label (for placing agents and goals)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from textwrap import dedent

from controller.traffic.floor import CompiledFloor
from controller.traffic.repair import REPAIR_LIMIT


@dataclass(frozen=True)
class Grid:
    floor: CompiledFloor
    labels: dict[str, int]

    def __getitem__(self, label: str) -> int:
        return self.labels[label]

    def at(self, row: int, col: int) -> int:
        return self.floor.index(cell_id(row, col))


def cell_id(row: int, col: int) -> str:
    return f"r{row}c{col}"


def grid(
    picture: str,
    goals_of_kind: Mapping[str, Iterable[str]] | None = None,
    *,
    rack_tables: int | None = None,
    executor: Executor | None = None,
    repair_limit: int = REPAIR_LIMIT,
) -> Grid:
    """The 4-connected floor of `picture`, every edge 1 m. `goals_of_kind` names labels."""
    lines = dedent(picture).strip("\n").splitlines()
    ids: list[str] = []
    xy: list[tuple[float, float]] = []
    labels: dict[str, str] = {}
    free: set[tuple[int, int]] = set()
    for row, line in enumerate(lines):
        for col, char in enumerate(line):
            if char in "# ":
                continue
            free.add((row, col))
            ids.append(cell_id(row, col))
            xy.append((float(col), float(-row)))
            if char != ".":
                assert char not in labels, f"label {char} used twice"
                labels[char] = cell_id(row, col)
    edges = [
        (cell_id(r, c), cell_id(r + dr, c + dc), 1.0)
        for r, c in sorted(free)
        for dr, dc in ((0, 1), (1, 0))
        if (r + dr, c + dc) in free
    ]
    goals = {kind: [labels[x] for x in members] for kind, members in (goals_of_kind or {}).items()}
    floor = CompiledFloor.build(
        ids,
        xy,
        edges,
        goals,
        rack_tables=rack_tables,
        executor=executor,
        repair_limit=repair_limit,
    )
    return Grid(floor, {label: floor.index(node) for label, node in labels.items()})


def random_picture(width: int, height: int, wall_fraction: float, seed: int) -> str:
    rng = random.Random(seed)
    return "\n".join(
        "".join("#" if rng.random() < wall_fraction else "." for _ in range(width))
        for _ in range(height)
    )


def open_picture(width: int, height: int) -> str:
    return "\n".join("." * width for _ in range(height))
