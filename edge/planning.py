"""The heavy planning tick, on its own cadence and off the event loop.

Every `period_s` the loop takes a `snapshot()` of what the planner needs (cheap: each AGV's
node and goal), a worker runs `compute(snapshot)`, and back on the loop `install(result)`
hands the plans over. For the fleet these are `FleetControl.plan_request`,
`plan_worker.plan_paths` and `FleetControl.install` (controller/traffic/control.py; the
kernel is single-threaded, so all that touches it stays on the loop). Meanwhile every state
message is handled as it arrives (`FleetControl.observe`), against the plans installed
before: a state never waits for a tick.

The worker should be a process (a `ProcessPoolExecutor` with one worker, whose initializer
builds the planner, so that the planner keeps its state between ticks: for the fleet,
`plan_worker.start_planner` with `FleetControl.planner_setup()`): the planner is pure
Python and holds the GIL, so in a thread it would still take the loop's time slices.
`executor=None` computes on the loop itself, for tests and to measure what that costs
(python -m benchmarks.fleet_telemetry --phases inline).

One compute at a time: a tick that overruns its period delays the next one (counted in
`overruns`); ticks never pile up. A compute that raises is logged and counted, and the
next tick runs as planned: the AGVs keep the plans they have (the kernel makes them wait at
the end of their plans, never collide). An `install` that raises is a bug: it ends `run`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

SnapshotT = TypeVar("SnapshotT")
ResultT = TypeVar("ResultT")


STATS_KEPT = 3600  # the last hour of durations at one tick a second


@dataclass(slots=True)
class TickStats:
    ticks: int = 0  # installed
    failures: int = 0  # computes that raised
    overruns: int = 0  # ticks that started late because the previous one ran over
    # The latest ticks' durations: from taking the snapshot to the result being back, and
    # installing it (on the loop).
    compute_s: deque[float] = field(default_factory=lambda: deque(maxlen=STATS_KEPT))
    install_s: deque[float] = field(default_factory=lambda: deque(maxlen=STATS_KEPT))


class PlanningLoop(Generic[SnapshotT, ResultT]):
    def __init__(
        self,
        *,
        period_s: float,
        snapshot: Callable[[], SnapshotT],
        compute: Callable[[SnapshotT], ResultT],
        install: Callable[[ResultT], None],
        executor: Executor | None,
    ) -> None:
        """`compute` must be picklable (a module-level function) for a process pool."""
        if period_s <= 0:
            raise ValueError(f"period_s must be positive, not {period_s}")
        self._period_s = period_s
        self._snapshot, self._compute, self._install = snapshot, compute, install
        self._executor = executor
        self.stats = TickStats()

    async def run(self) -> None:
        """Tick until cancelled."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            await self.tick_once()
            due += self._period_s
            now = loop.time()
            if now > due:
                self.stats.overruns += 1
                due = now  # start again at once, and keep the cadence from here
            await asyncio.sleep(due - now)

    async def tick_once(self) -> None:
        started = time.perf_counter()
        try:
            snapshot = self._snapshot()
            if self._executor is None:
                result = self._compute(snapshot)
            else:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self._executor, self._compute, snapshot)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.stats.failures += 1
            log.exception("the planning tick failed; the AGVs keep their plans")
            return
        computed = time.perf_counter()
        self._install(result)
        self.stats.compute_s.append(computed - started)
        self.stats.install_s.append(time.perf_counter() - computed)
        self.stats.ticks += 1
