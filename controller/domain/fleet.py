"""What the controller knows of each AGV: its master control, last state and task."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from controller.domain.messages import AgvState, ConnectionState
from controller.vda5050.acceptance import Delivery
from controller.vda5050.master import AgvMaster


@dataclass
class Agv:
    """One AGV as the site controller sees it: its VDA 5050 master control (the vehicle's
    health and protocol, controller/vda5050), the last state in the controller's terms, and
    the task it is executing."""

    serial_number: str
    manufacturer: str
    master: AgvMaster
    state: AgvState | None = None  # the master's last state, converted (agv_link.agv_state)
    task_id: str | None = None  # the transport task it is executing, if any

    @property
    def connection(self) -> ConnectionState:
        """OFFLINE until a `connection` message says otherwise."""
        return self.master.vehicle.connection or ConnectionState.OFFLINE

    @property
    def state_at(self) -> datetime | None:
        return self.master.vehicle.state_at

    def stale(self, now: datetime) -> bool:
        """No state for longer than the vehicle may stay silent (CHECKLIST 48)."""
        return self.master.vehicle.stale(now)

    def order_open(self) -> bool:
        """An order was sent that the AGV may still be running: not rejected, never
        confirmed, or reported done (completed, failed, cancelled) yet."""
        tracker = self.master.order
        if tracker is None or tracker.settled:
            return False
        if tracker.delivery in (Delivery.REJECTED, Delivery.UNCONFIRMED):
            return False
        state = self.state
        done = state is not None and state.order_id == tracker.order_id and state.order_complete
        return not done

    def free(self, now: datetime) -> bool:
        """Ready for an order by VDA 5050 (online, fresh, no FATAL error, AUTOMATIC,
        not charging, paused or halted: the master's readiness), with no task, no order
        open, its last order done, standing on a node."""
        state = self.state
        return (
            self.task_id is None
            and not self.order_open()
            and state is not None
            and self.master.readiness(now).ready
            and state.order_complete
            and not state.driving
            and state.last_node_id != ""
        )

    def dispatchable(self, now: datetime) -> bool:
        """Free, and carrying nothing: every task but a carried one starts with a pick, which
        an AGV still carrying a tote would fail (loadHandlingDeviceOccupied)."""
        return self.free(now) and self.state is not None and not self.state.load_ids
