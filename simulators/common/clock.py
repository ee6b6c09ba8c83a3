"""Sim time and the timestamps devices put on the wire.

Sim time runs `speedup` times faster than wall time. Travel and work durations are in sim
seconds; the few things that are wall-clock by nature (the AGV's periodic state, the
sorter's decision window) are measured on `wall()`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SimClock:
    def __init__(
        self,
        speedup: float = 10.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        utcnow: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if speedup <= 0:
            raise ValueError(f"speedup must be positive, got {speedup}")
        self.speedup = speedup
        self._monotonic = monotonic
        self._wall0 = monotonic()
        self._utc0 = utcnow()

    def wall(self) -> float:
        """Wall seconds on a monotonic clock."""
        return self._monotonic()

    def now(self) -> float:
        """Sim seconds since the clock started."""
        return (self._monotonic() - self._wall0) * self.speedup

    def wall_delay(self, sim_at: float) -> float:
        """Wall seconds from now until sim time `sim_at` (0 if it has passed)."""
        return max(0.0, (sim_at - self.now()) / self.speedup)

    def utc_at(self, sim_at: float) -> datetime:
        """The UTC instant at which sim time `sim_at` happens (or happened)."""
        return self._utc0 + timedelta(seconds=sim_at / self.speedup)


def vda_timestamp(moment: datetime) -> str:
    """VDA 5050 2.x: `YYYY-MM-DDTHH:mm:ss.ffZ`, UTC."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 10_000:02d}Z"


def iso_ms(moment: datetime) -> str:
    """RFC 3339 UTC with milliseconds and `Z`, for our own device protocols."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def zebra_timestamp(moment: datetime) -> str:
    """Zebra IoT Connector style: milliseconds and a `+0000` offset."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def impinj_timestamp(moment: datetime) -> str:
    """Impinj IoT Device Interface style: microseconds and `Z`."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
