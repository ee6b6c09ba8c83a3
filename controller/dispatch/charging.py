"""Sending AGVs to chargers: each charger takes one AGV at a time.

A charger is taken while an AGV stands on it (charging, or idle after charging) or while an
AGV this dispatcher sent there is on its way. The snapshots show the first but not the
second (an AGV's destination is not in them), so the book keeps the claims of AGVs on
their way and drops each one once the snapshots tell the rest of the story: the AGV is
charging, carrying a tote, or gone, or stands on its charger idle with the battery above
`resume` (charged already, or by a charger that reports no charging).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from controller.dispatch.decisions import SendToCharge
from controller.dispatch.fleet import needs_charge
from controller.dispatch.geometry import between
from controller.dispatch.policy import DispatchPolicy
from controller.dispatch.ports import DistanceTables
from controller.dispatch.snapshots import AgvSnapshot


class ChargerBook:
    def __init__(self, policy: DispatchPolicy, tables: DistanceTables) -> None:
        self._policy = policy
        self._tables = tables
        self._chargers = np.array(policy.chargers, dtype=np.int64)
        self._claims: dict[str, int] = {}  # AGV id → the charger it is on its way to

    def heading_to_charge(self, agv_id: str) -> bool:
        return agv_id in self._claims

    def home(self, nodes: np.ndarray) -> np.ndarray:
        """Metres from each of `nodes` to its nearest charger (0 where the site has none)."""
        if len(self._chargers) == 0:
            return np.zeros(len(nodes))
        home: np.ndarray = between(self._tables, self._chargers, nodes).min(axis=0)
        return home

    def plan(self, agvs: Sequence[AgvSnapshot]) -> list[SendToCharge]:
        """Claims brought up to date; then each AGV that needs a charge and is not on its
        way to one, most depleted first, sent to its nearest free charger (none free: it
        waits, and tries again next tick)."""
        by_id = {agv.id: agv for agv in agvs}
        for agv_id, charger in list(self._claims.items()):
            agv = by_id.get(agv_id)
            if agv is None or agv.charging or agv.carrying > 0 or self._charged(agv, charger):
                del self._claims[agv_id]
        needing = sorted(
            (agv for agv in agvs if agv.id not in self._claims and needs_charge(agv, self._policy)),
            key=lambda agv: (agv.battery_pct, agv.id),
        )
        if not needing or len(self._chargers) == 0:
            return []
        occupant = self._occupants(agvs)
        # [chargers, needing]: one lookup for all of them
        distances = between(self._tables, self._chargers, np.array([agv.node for agv in needing]))
        sent = []
        for k, agv in enumerate(needing):
            free = np.array([occupant.get(c, agv.id) == agv.id for c in self._chargers.tolist()])
            if not free.any():
                continue
            to_chargers = np.where(free, distances[:, k], np.inf)
            nearest = int(np.argmin(to_chargers))
            if not np.isfinite(to_chargers[nearest]):
                continue
            charger = int(self._chargers[nearest])
            occupant[charger] = agv.id
            self._claims[agv.id] = charger
            sent.append(SendToCharge(agv.id, charger))
        return sent

    def _charged(self, agv: AgvSnapshot, charger: int) -> bool:
        return (
            agv.node == charger
            and agv.available
            and agv.battery_pct >= self._policy.battery_resume_pct
        )

    def _occupants(self, agvs: Sequence[AgvSnapshot]) -> dict[int, str]:
        """Charger node → the AGV holding it: standing on it (not just passing: charging or
        idle), or on its way there."""
        chargers = set(self._chargers.tolist())
        occupant = {
            agv.node: agv.id
            for agv in agvs
            if agv.node in chargers and (agv.charging or agv.available)
        }
        occupant.update({charger: agv_id for agv_id, charger in self._claims.items()})
        return occupant
