"""Transport tasks: one tote moved by one AGV from a source node to a destination node."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TaskKind(StrEnum):
    FETCH = "fetch"  # rack → station, for an order line
    RETURN = "return"  # station → the tote's home rack
    PUT_BACK = "put_back"  # rack → station, to put a cancelled order's items back in


MAX_ATTEMPTS = 3  # AGV orders per task before it is escalated instead of sent again
TOTE_LOST = "lost"  # where a tote is when nobody knows: an operator or a count must find it


def on_agv(serial: str) -> str:
    """Where a tote is while an AGV carries it (the site controller's `tote_at`)."""
    return f"agv:{serial}"


class TaskStatus(StrEnum):
    QUEUED = "queued"
    ASSIGNED = "assigned"  # its VDA 5050 order sent to an AGV, not yet echoed in a state
    ACCEPTED = "accepted"  # the AGV's state shows the order (CHECKLIST 38): it is executing
    LOADED = "loaded"  # the AGV's pick FINISHED: the tote is on board
    DELIVERED = "delivered"  # the AGV's drop FINISHED
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = frozenset({TaskStatus.ASSIGNED, TaskStatus.ACCEPTED, TaskStatus.LOADED})
NOT_LOADED = frozenset({TaskStatus.ASSIGNED, TaskStatus.ACCEPTED})  # the tote is still home


@dataclass
class TransportTask:
    task_id: str  # also the VDA 5050 orderId sent for it
    seq: int  # creation order: first come, first served among equals
    kind: TaskKind
    tote_id: str
    source: str
    destination: str
    priority: int
    order_id: str | None = None
    line_id: str | None = None
    sku: str | None = None
    gtin: str | None = None
    bin: str | None = None
    qty: int = 0
    station_id: str | None = None
    status: TaskStatus = TaskStatus.QUEUED
    agv: str | None = None
    picked_qty: int | None = None  # set when the station confirms (fetch and put-back tasks)
    putback_id: str | None = None  # put-back tasks
    return_queued: bool = False  # the tote's trip home is planned (fetch and put-back tasks)
    attempts: int = 0  # AGV orders sent for it so far
    last_node_id: str | None = None  # where its AGV last reported being (while executing)
    # The AGV the tote is already on: a trip home after a task failed with the tote on
    # board. Only that AGV can make it, and there is no pick.
    carried_by: str | None = None

    @property
    def agv_order_id(self) -> str:
        """The VDA 5050 orderId of the current attempt: a new one per attempt, since an AGV
        may not be sent an orderId twice (CHECKLIST 23)."""
        return self.task_id if self.attempts <= 1 else f"{self.task_id}.{self.attempts}"

    @property
    def pick_action_id(self) -> str:
        return f"{self.agv_order_id}-pick"

    @property
    def drop_action_id(self) -> str:
        return f"{self.agv_order_id}-drop"

    def dispatch_key(self) -> tuple[int, int]:
        """Most urgent first, then first come first served."""
        return -self.priority, self.seq
