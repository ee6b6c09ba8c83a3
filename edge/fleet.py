"""Fleet status to the central API (docs/protocols.md, "Fleet status").

Snapshots are state, not events: they skip the outbox. Every interval the edge sends each
AGV whose snapshot changed since it was last sent, and every AGV at least every
`REFRESH`, so that operators can tell a quiet fleet from a silent edge (the API flags a
snapshot older than a minute). A push that fails is simply superseded by the next one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from controller.domain.fleet import Agv
from edge.codecs.fleet import agv_status

REFRESH = timedelta(seconds=20)


class FleetReporter:
    def __init__(self) -> None:
        # serial number → (the snapshot sent, without its time; when it was sent)
        self._sent: dict[str, tuple[dict[str, Any], datetime]] = {}

    def due(self, agvs: Iterable[Agv], now: datetime) -> list[dict[str, Any]]:
        """The snapshots to send now: changed ones, and those not sent for `REFRESH`."""
        out = []
        for agv in agvs:
            body = agv_status(agv, now)
            last = self._sent.get(agv.serial_number)
            if last is None or last[0] != _content(body) or now - last[1] >= REFRESH:
                out.append(body)
        return out

    def sent(self, bodies: Iterable[dict[str, Any]], now: datetime) -> None:
        for body in bodies:
            self._sent[body["serial_number"]] = (_content(body), now)


def _content(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "observed_at"}
