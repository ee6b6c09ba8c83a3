"""Wire models of the fleet view (docs/protocols.md, "Fleet status"), snake_case JSON.

The edge controller pushes one snapshot per AGV, built from the vehicle's VDA 5050
`connection` and `state` messages as the edge last received them; the central API keeps the
newest per AGV and shows them to operators. Snapshots are state, not events: a newer one
replaces an older one, and one that arrives late (older `observed_at`) changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.orders.schemas import UtcInstant

MAX_AGVS_PER_PUSH = 1000
Connection = Literal["ONLINE", "OFFLINE", "CONNECTIONBROKEN"]
Ident = Annotated[str, Field(min_length=1, max_length=64)]


class AgvBattery(BaseModel):
    charge: float = Field(ge=0, le=100, description="State of charge, percent")
    charging: bool


class AgvPosition(BaseModel):
    """Where the vehicle says it is (absent while its position is not initialised)."""

    x: float
    y: float
    theta: float | None = None
    map_id: str


class AgvOrderProgress(BaseModel):
    order_id: str
    order_update_id: int = Field(ge=0)
    task_id: str | None = Field(default=None, description="The edge's transport task, if any")
    nodes_left: int = Field(ge=0, description="Nodes still to traverse (base and horizon)")
    edges_left: int = Field(ge=0)
    actions_finished: int = Field(ge=0)
    actions_total: int = Field(ge=0)


class AgvErrorOut(BaseModel):
    error_type: str
    level: str = Field(description="WARNING or FATAL")
    description: str = ""
    references: dict[str, str] = Field(
        default_factory=dict, description="What the error is about, e.g. orderId, actionId"
    )


class AgvStatus(BaseModel):
    """One AGV as the edge sees it at `observed_at`."""

    serial_number: Ident
    manufacturer: Ident
    observed_at: UtcInstant = Field(description="When the edge took this snapshot")
    connection: Connection | None = Field(description="The last `connection` message; null: none")
    state_at: UtcInstant | None = Field(description="When the edge received the last `state`")
    stale: bool = Field(description="No state for longer than VDA 5050 allows (30 s + margin)")
    dispatchable: bool = Field(description="Whether the edge would give it a task now")
    operating_mode: str | None = None
    driving: bool | None = None
    paused: bool | None = None
    e_stop: str | None = Field(default=None, description="safetyState.eStop; NONE when clear")
    battery: AgvBattery | None = None
    position: AgvPosition | None = None
    last_node_id: str | None = None
    order: AgvOrderProgress | None = None
    errors: list[AgvErrorOut] = Field(default_factory=list)


class FleetPush(BaseModel):
    agvs: list[AgvStatus] = Field(max_length=MAX_AGVS_PER_PUSH)


class FleetPushResult(BaseModel):
    serial_number: str
    status: Literal["stored", "stale"] = Field(
        description="`stale`: the API already holds a snapshot at least as new"
    )


class FleetPushResults(BaseModel):
    results: list[FleetPushResult]


class AgvView(BaseModel):
    """An AGV of the site's config, with its newest snapshot (`status` null: none yet)."""

    serial_number: str
    manufacturer: str
    reported_at: datetime | None = Field(description="When the API received the snapshot")
    report_stale: bool = Field(
        description="The edge has not reported this AGV for longer than the API's limit: "
        "the snapshot may be out of date (edge down or cut off)"
    )
    status: AgvStatus | None


class FleetView(BaseModel):
    site: str
    agvs: list[AgvView]
