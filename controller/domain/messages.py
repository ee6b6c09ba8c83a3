"""What flows into the site controller (device facts) and out of it (effects).

Inbound facts are already validated and typed by the edge's codecs; outbound effects are
turned into MQTT messages or central API reports by the edge. Neither side sees a topic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# --- inbound: work and device facts -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Allocation:
    bin: str
    tote_id: str
    qty: int


@dataclass(frozen=True, slots=True)
class ReleasedLine:
    line_id: str
    sku: str
    gtin: str
    qty: int
    allocations: tuple[Allocation, ...]


@dataclass(frozen=True, slots=True)
class ReleasedOrder:
    """A fully reserved order from the central API's work feed. A higher `version` of an
    order the site already holds is an amendment."""

    order_id: str
    priority: int
    carrier: str
    lines: tuple[ReleasedLine, ...]
    version: int = 1


@dataclass(frozen=True, slots=True)
class PutBackLine:
    """Items of one line of a cancelled order, to go back into the tote they came from."""

    line_id: str
    sku: str
    gtin: str
    bin: str  # the tote's rack node
    tote_id: str
    qty: int


@dataclass(frozen=True, slots=True)
class PutBackRequest:
    """A `putback.requested` work item: picked items of a cancelled order go back."""

    putback_id: str
    order_id: str
    lines: tuple[PutBackLine, ...]


class ConnectionState(StrEnum):
    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"
    CONNECTIONBROKEN = "CONNECTIONBROKEN"


class ActionStatus(StrEnum):
    WAITING = "WAITING"
    INITIALIZING = "INITIALIZING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"


FINAL_ACTION_STATUSES = frozenset({ActionStatus.FINISHED, ActionStatus.FAILED})


@dataclass(frozen=True, slots=True)
class ActionState:
    action_id: str
    action_type: str
    status: ActionStatus


@dataclass(frozen=True, slots=True)
class AgvError:
    error_type: str
    level: str  # WARNING | FATAL
    description: str = ""
    references: tuple[tuple[str, str], ...] = ()  # (referenceKey, referenceValue)


@dataclass(frozen=True, slots=True)
class AgvPosition:
    x: float
    y: float
    theta: float
    map_id: str


@dataclass(frozen=True, slots=True)
class AgvState:
    """The part of a VDA 5050 state the controller decides on."""

    order_id: str
    last_node_id: str
    driving: bool
    open_nodes: int
    open_edges: int
    action_states: tuple[ActionState, ...]
    errors: tuple[AgvError, ...]
    operating_mode: str
    battery_charge: float
    order_update_id: int = 0
    charging: bool = False
    paused: bool = False
    e_stop: str = "NONE"  # safetyState.eStop: AUTOACK, MANUAL, REMOTE, NONE
    position: AgvPosition | None = None  # None while the vehicle's is not initialised
    # loads[].loadId ("" for a load without one); None: the vehicle does not report its
    # loads, so they are unknown (CHECKLIST 55)
    load_ids: tuple[str, ...] | None = None

    @property
    def order_complete(self) -> bool:
        """VDA 5050: no nodes or edges left and every action in a final state."""
        return (
            self.open_nodes == 0
            and self.open_edges == 0
            and all(a.status in FINAL_ACTION_STATUSES for a in self.action_states)
        )


@dataclass(frozen=True, slots=True)
class TagRead:
    epc_hex: str
    rssi_dbm: float


# --- outbound: effects ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StationPick:
    station_id: str
    task_id: str
    order_id: str
    line_id: str
    tote_id: str
    sku: str
    gtin: str
    qty: int


@dataclass(frozen=True, slots=True)
class StationCloseCarton:
    station_id: str
    order_id: str


@dataclass(frozen=True, slots=True)
class StationLabel:
    station_id: str
    order_id: str
    sscc: str
    carrier: str


@dataclass(frozen=True, slots=True)
class StationReject:
    station_id: str
    order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class StationCancel:
    """The order is cancelled: pick nothing more for it, set its carton aside."""

    station_id: str
    order_id: str


@dataclass(frozen=True, slots=True)
class StationPutBack:
    """The tote is at the station: put `qty` items of `sku` of the cancelled order back in."""

    station_id: str
    task_id: str
    putback_id: str
    order_id: str
    line_id: str
    tote_id: str
    sku: str
    gtin: str
    qty: int


@dataclass(frozen=True, slots=True)
class SorterDivert:
    sorter_id: str
    track_id: str
    chute: str


class ReportType(StrEnum):
    ORDER_PICKING = "order.picking"
    LINE_PICKED = "line.picked"
    ORDER_PICKED = "order.picked"
    ORDER_PACKED = "order.packed"
    PARCEL_SORTED = "parcel.sorted"
    PARCEL_LOADED = "parcel.loaded"
    PARCEL_SHIPPED = "parcel.shipped"
    ORDER_EXCEPTION = "order.exception"
    ORDER_CANCELLED = "order.cancelled"
    LINE_PUT_BACK = "line.put_back"


@dataclass(frozen=True, slots=True)
class Report:
    """A step reported to the central API (through the edge's outbox)."""

    type: ReportType
    order_id: str
    data: dict[str, Any] = field(default_factory=dict)


DeviceCommand = (
    StationPick
    | StationCloseCarton
    | StationLabel
    | StationReject
    | StationCancel
    | StationPutBack
    | SorterDivert
)
Effect = DeviceCommand | Report
