"""What the controller knows of each AGV, and which one to send."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from controller.domain.messages import AgvState, ConnectionState

STATE_STALE_AFTER = timedelta(seconds=35)  # VDA 5050 §6.10: state at least every 30 s, + margin
DISPATCHABLE_MODES = frozenset({"AUTOMATIC", "SEMIAUTOMATIC"})  # VDA 5050 §6.10.6 Table 1


@dataclass
class Agv:
    serial_number: str
    manufacturer: str
    connection: ConnectionState = ConnectionState.OFFLINE
    state: AgvState | None = None
    state_at: datetime | None = None
    task_id: str | None = None  # the transport task it is executing, if any

    def stale(self, now: datetime) -> bool:
        """No state for longer than the vehicle may stay silent (CHECKLIST 48)."""
        return self.state_at is None or now - self.state_at > STATE_STALE_AFTER

    def dispatchable(self, now: datetime) -> bool:
        state = self.state
        return (
            self.task_id is None
            and self.connection is ConnectionState.ONLINE
            and state is not None
            and not self.stale(now)
            and state.order_complete
            and not state.driving
            and not state.has_fatal_error
            # CHECKLIST 59, 60: a vehicle charging, paused or halted takes an order and
            # stands still; none of them is ready for a transport task.
            and not state.charging
            and not state.paused
            and state.e_stop == "NONE"
            and state.operating_mode in DISPATCHABLE_MODES
            and state.last_node_id != ""
            # Every task starts with a pick: an AGV still carrying a tote (its task failed
            # with the tote on board) would fail it (loadHandlingDeviceOccupied).
            and not state.load_ids
        )


def choose_agv(
    agvs: Iterable[Agv], now: datetime, distance_to_source: Callable[[str], float]
) -> Agv | None:
    """The nearest dispatchable AGV to the task's source node (ties: lowest serial)."""
    candidates = [agv for agv in agvs if agv.dispatchable(now)]
    if not candidates:
        return None

    def cost(agv: Agv) -> tuple[float, str]:
        assert agv.state is not None
        return distance_to_source(agv.state.last_node_id), agv.serial_number

    return min(candidates, key=cost)
