"""A generated warehouse floor: blocks of racks in a grid of one-cell aisles.

```
 P P P P P P P P P      parking pockets (top row), each off the back lane
 .................      back lane, two cells wide
 .................
 .###########.####.     a block: two racks back to back, BLOCK_LENGTH cells long;
 .###########.####.     every cell next to a rack is a rack face (a pick location)
 .................      aisles around every block
C.###########.####.     charger pockets (left column), each off the outer aisle
 .................
 .................      front lane, two cells wide
   S    S    S          station pockets (bottom row), each off the front lane
```

Pockets hang off the lanes so that an AGV dropping at a station, charging or parked
blocks no through traffic. Nodes are `x{col}y{row}`, a cell is `CELL_M` square, every edge
joins 4-neighbours. `cells_target` is the number of nodes to aim for (within a few %).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

CELL_M = 1.0
BLOCK_LENGTH = 10  # rack cells along an aisle
BLOCK_DEPTH = 2  # two racks back to back
LANE_WIDTH = 2  # front and back cross-lanes
STATION_EVERY = 10  # columns between stations
CHARGER_EVERY = 12  # rows between chargers
PARKING_EVERY = 4  # columns between parking pockets


@dataclass(frozen=True)
class WarehouseGrid:
    width: int  # cells, pockets included
    height: int
    node_ids: list[str]
    xy: list[tuple[float, float]]
    edges: list[tuple[str, str, float]]
    goals: dict[str, list[str]]  # "rack" (faces), "station", "charger", "parking"


def warehouse_grid(cells_target: int, seed: int = 0) -> WarehouseGrid:
    """A roughly square floor of about `cells_target` nodes. The seed shifts where the
    stations, chargers and parking pockets sit along their edges."""
    tile_w, tile_h = BLOCK_LENGTH + 1, BLOCK_DEPTH + 1
    free_per_tile = tile_w * tile_h - BLOCK_LENGTH * BLOCK_DEPTH
    tiles_x = max(1, round(math.sqrt(cells_target * tile_h / (free_per_tile * tile_w))))
    # The rows of blocks that bring the count nearest the target, lanes and pockets counted.
    inner_w = tiles_x * tile_w + 1
    per_row = inner_w * tile_h - tiles_x * BLOCK_LENGTH * BLOCK_DEPTH
    fixed = inner_w * (1 + 2 * LANE_WIDTH) + inner_w // STATION_EVERY + inner_w // PARKING_EVERY
    tiles_y = max(1, round((cells_target - fixed) / (per_row + tile_h / CHARGER_EVERY)))
    return _layout(tiles_x, tiles_y, random.Random(seed))


def _layout(tiles_x: int, tiles_y: int, rng: random.Random) -> WarehouseGrid:
    inner_w = tiles_x * (BLOCK_LENGTH + 1) + 1
    storage_h = tiles_y * (BLOCK_DEPTH + 1) + 1
    width = inner_w + 1  # column 0: charger pockets
    storage_y0 = 1 + LANE_WIDTH  # row 0: station pockets, then the front lane
    height = storage_y0 + storage_h + LANE_WIDTH + 1  # back lane, then parking pockets

    def is_rack(x: int, y: int) -> bool:
        lx, ly = x - 1, y - storage_y0
        if not (0 <= lx < inner_w and 0 <= ly < storage_h):
            return False
        return lx % (BLOCK_LENGTH + 1) != 0 and ly % (BLOCK_DEPTH + 1) != 0

    free = {(x, y) for x in range(1, width) for y in range(1, height - 1) if not is_rack(x, y)}
    pockets: dict[str, list[tuple[int, int]]] = {
        "station": _spread(range(1, width), STATION_EVERY, rng, lambda x: (x, 0)),
        "parking": _spread(range(1, width), PARKING_EVERY, rng, lambda x: (x, height - 1)),
        "charger": _spread(
            range(storage_y0, storage_y0 + storage_h), CHARGER_EVERY, rng, lambda y: (0, y)
        ),
    }
    doors = {"station": (0, 1), "parking": (0, -1), "charger": (1, 0)}
    edges = [
        (_id(x, y), _id(x + dx, y + dy), CELL_M)
        for x, y in sorted(free)
        for dx, dy in ((1, 0), (0, 1))
        if (x + dx, y + dy) in free
    ]
    for kind, members in pockets.items():
        dx, dy = doors[kind]
        edges.extend((_id(x, y), _id(x + dx, y + dy), CELL_M) for x, y in members)
    cells = sorted(free | {c for members in pockets.values() for c in members})
    faces = [
        (x, y)
        for x, y in sorted(free)
        if any(is_rack(x + dx, y + dy) for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)))
    ]
    goals = {"rack": [_id(*c) for c in faces]}
    goals.update({kind: [_id(*c) for c in members] for kind, members in pockets.items()})
    return WarehouseGrid(
        width=width,
        height=height,
        node_ids=[_id(x, y) for x, y in cells],
        xy=[(x * CELL_M, y * CELL_M) for x, y in cells],
        edges=edges,
        goals=goals,
    )


def _spread(
    along: range, every: int, rng: random.Random, cell: Callable[[int], tuple[int, int]]
) -> list[tuple[int, int]]:
    """One pocket per `every` positions along an edge, at a seeded offset in each stretch."""
    return [cell(start + rng.randrange(min(every, along.stop - start))) for start in along[::every]]


def _id(x: int, y: int) -> str:
    return f"x{x}y{y}"
