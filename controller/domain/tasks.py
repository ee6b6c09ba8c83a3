"""Transport tasks: one tote moved by one AGV from a source node to a destination node."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TaskKind(StrEnum):
    FETCH = "fetch"  # rack → station, for an order line
    RETURN = "return"  # station → the tote's home rack
    PUT_BACK = "put_back"  # rack → station, to put a cancelled order's items back in


class TaskStatus(StrEnum):
    QUEUED = "queued"
    ASSIGNED = "assigned"  # sent to an AGV
    LOADED = "loaded"  # the AGV's pick FINISHED: the tote is on board
    DELIVERED = "delivered"  # the AGV's drop FINISHED
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = frozenset({TaskStatus.ASSIGNED, TaskStatus.LOADED})


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

    @property
    def pick_action_id(self) -> str:
        return f"{self.task_id}-pick"

    @property
    def drop_action_id(self) -> str:
        return f"{self.task_id}-drop"

    def dispatch_key(self) -> tuple[int, int]:
        """Most urgent first, then first come first served."""
        return -self.priority, self.seq
