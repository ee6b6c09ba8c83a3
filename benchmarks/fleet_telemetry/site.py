"""The benchmark's floor and fleet: a generated warehouse (simulators/fleet/grid.py, the
floor of the full-tick figures at 500 AGVs: `fleet_sim --cells 42000 --agvs 500`) and the
AGVs' start nodes. Every process rebuilds the floor from (cells, seed): the same floor."""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulators.fleet.grid import WarehouseGrid, warehouse_grid

MAP_ID = "bench-floor"


@dataclass(frozen=True)
class Fleet:
    """What every process of a phase is told about the floor and the AGVs."""

    cells: int
    seed: int
    starts: tuple[int, ...]  # AGV i starts on node starts[i]

    @property
    def agvs(self) -> int:
        return len(self.starts)

    def layout(self) -> WarehouseGrid:
        return warehouse_grid(self.cells, seed=self.seed)


def serial(i: int) -> str:
    return f"agv{i:04d}"


def fleet_on(cells: int, agvs: int, seed: int) -> Fleet:
    """`agvs` AGVs on the floor of about `cells` nodes: parking first, then random nodes
    that are nobody's goal (lanes, aisles), as the fleet simulation starts them."""
    layout = warehouse_grid(cells, seed=seed)
    index = {node_id: i for i, node_id in enumerate(layout.node_ids)}
    goals = {index[n] for members in layout.goals.values() for n in members}
    parking = [index[n] for n in layout.goals.get("parking", [])]
    others = [i for i in range(len(layout.node_ids)) if i not in goals]
    rng = random.Random(seed)
    rng.shuffle(parking)
    rng.shuffle(others)
    starts = (parking + others)[:agvs]
    if len(starts) < agvs:
        raise ValueError(f"no room for {agvs} AGVs on {len(layout.node_ids)} nodes")
    return Fleet(cells, seed, tuple(starts))
