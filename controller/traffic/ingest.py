"""What one AGV `state` decides for traffic, between two planning ticks (superseded by
FleetControl.observe with a lookahead; kept until the telemetry benchmark moves to it).

The planning tick (every second or so; up to ~300 ms for 500 AGVs) proposes each AGV's path
and hands the plans over with `install`. Each state that arrives in between says where its
AGV is (`lastNodeId`), and that is enough for the decision that keeps the AGV moving: the
kernel frees what the AGV has passed (`confirm`) and grants the next stretch of its latest
plan (`request`), so that its base reaches `lookahead` nodes ahead. The allocation afterwards
is the base to send; the nodes granted by this state are the extension an order update
releases. This costs microseconds, so it runs on every state, never waiting for a tick.

Pure: no clock, no I/O. Like the kernel it is single-threaded: call it from one thread (the
edge's event loop) and run the planner elsewhere on a snapshot (edge/planning.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from controller.traffic.ids import AgvId
from controller.traffic.kernel import Refusal, ReservationKernel
from controller.traffic.violations import Violation

LOOKAHEAD_NODES = 3  # base kept ahead of the AGV: two states at 2 Hz and 1 node/s, plus one


@dataclass(frozen=True, slots=True)
class BaseDecision:
    """The outcome of one state for its AGV's base."""

    agv_id: AgvId
    node: int  # where the state says it is
    base: tuple[int, ...]  # its allocation afterwards: the node it is at, then ahead
    released: tuple[int, ...]  # granted by this state: the base extension to send, if any
    refusal: Refusal | None  # why the planned stretch was not granted in full (None: it was)
    violation: Violation | None  # the AGV reported a node it did not hold: nothing changed
    planned: bool  # whether its latest plan passes through `node` (False: nothing requested)


class BaseExtender:
    """Confirms each state's node and extends the AGV's base along its latest plan."""

    def __init__(
        self,
        kernel: ReservationKernel,
        node_index: Mapping[str, int],
        *,
        lookahead: int = LOOKAHEAD_NODES,
    ) -> None:
        if lookahead < 1:
            raise ValueError(f"lookahead must be at least 1 node, not {lookahead}")
        self._kernel = kernel
        self._node_index = node_index
        self._lookahead = lookahead
        self._plans: dict[AgvId, tuple[int, ...]] = {}
        self.plans_installed = 0  # ticks handed over so far

    def install(self, plans: Mapping[AgvId, Sequence[int]]) -> None:
        """A tick's plans: each AGV's path from where it stood in the tick's snapshot. An
        AGV the tick left out keeps its previous plan."""
        for agv_id, path in plans.items():
            self._plans[agv_id] = tuple(path)
        self.plans_installed += 1

    def plan(self, agv_id: AgvId) -> tuple[int, ...]:
        return self._plans.get(agv_id, ())

    def on_state(self, agv_id: AgvId, last_node_id: str) -> BaseDecision | None:
        """The AGV's state puts it at `last_node_id`. None if that is no node of the floor
        (an AGV that has not reached a node yet reports ""): nothing to confirm. Raises
        UnknownAgv for an AGV the kernel has not placed."""
        node = self._node_index.get(last_node_id)
        if node is None:
            return None
        kernel = self._kernel
        violation = kernel.confirm(agv_id, node)
        if violation is not None:
            return BaseDecision(agv_id, node, kernel.allocation(agv_id), (), None, violation, False)
        held = len(kernel.allocation(agv_id))
        path = self._plans.get(agv_id, ())
        try:
            at = path.index(node)
        except ValueError:
            # Behind or off its plan (a new plan will come with the next tick): it keeps what
            # it holds, and nothing more is granted on a guess.
            return BaseDecision(agv_id, node, kernel.allocation(agv_id), (), None, None, False)
        grant = kernel.request(agv_id, path[at : at + self._lookahead + 1])
        base = kernel.allocation(agv_id)
        return BaseDecision(agv_id, node, base, base[held:], grant.refusal, None, True)
