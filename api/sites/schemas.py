"""Wire models of the edge ↔ central API contract (docs/protocols.md), snake_case JSON.

The envelope of an event (`event_id`, `type`, `order_id`, `occurred_at`, `data`) is the
contract: a batch with a broken envelope is a 422. What is inside `data` is judged per
event: a bad one is `rejected` with its reason and never blocks the events behind it.
Unknown fields are ignored everywhere.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, TypeAdapter

from api.orders.schemas import UtcInstant, no_nul
from controller.domain.gs1 import SSCC_LENGTH, check_digit

MAX_EVENTS = 500  # per POST, docs/protocols.md
DEFAULT_WORK_LIMIT = 100
MAX_WORK_LIMIT = 1000
MAX_SEQ = 2**31 - 1  # work_items.seq is a 32-bit integer column


class EventType(StrEnum):
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


# --- work feed -------------------------------------------------------------------------


class WorkAllocation(BaseModel):
    bin: str
    tote_id: str
    qty: int


class WorkLine(BaseModel):
    line_id: str
    sku: str
    gtin: str
    qty: int
    allocations: list[WorkAllocation]


class WorkOrder(BaseModel):
    order_id: str
    version: int = Field(description="The site-facing revision: a higher one replaces the order")
    priority: int
    carrier: str | None
    service: str | None
    ship_by: datetime | None
    lines: list[WorkLine]


class ReleasedItem(BaseModel):
    seq: int
    type: Literal["order.released"]
    order: WorkOrder


class CancelItem(BaseModel):
    seq: int
    type: Literal["order.cancel"]
    order_id: str


class PutbackLine(BaseModel):
    line_id: str
    sku: str
    gtin: str
    bin: str
    tote_id: str
    qty: int


class Putback(BaseModel):
    putback_id: str
    order_id: str
    lines: list[PutbackLine]


class PutbackItem(BaseModel):
    seq: int
    type: Literal["putback.requested"]
    putback: Putback


WorkItem = Annotated[ReleasedItem | CancelItem | PutbackItem, Field(discriminator="type")]
WORK_ITEM: TypeAdapter[WorkItem] = TypeAdapter(WorkItem)


class WorkPage(BaseModel):
    items: list[WorkItem]
    next_after: int = Field(description="Ask again with `after` = this; equals `after` when empty")


# --- event ingest ----------------------------------------------------------------------

EventId = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(no_nul)]
EnvelopeRef = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(no_nul)]


class EventIn(BaseModel):
    """`data` is checked per event (api.sites.ingest.data_problem), not here."""

    event_id: EventId
    type: EnvelopeRef
    order_id: EnvelopeRef
    occurred_at: UtcInstant
    data: dict[str, Any] = Field(default_factory=dict)


class EventBatch(BaseModel):
    events: list[EventIn] = Field(max_length=MAX_EVENTS)


class EventResult(BaseModel):
    event_id: str
    status: Literal["accepted", "duplicate", "rejected"]
    detail: str | None = None


class EventResults(BaseModel):
    results: list[EventResult]


# --- `data` of each event type ----------------------------------------------------------


def _sscc(value: str) -> str:
    if len(value) != SSCC_LENGTH or not value.isdigit():
        raise ValueError(f"an SSCC is {SSCC_LENGTH} digits")
    if check_digit(value[:-1]) != value[-1]:
        raise ValueError("wrong SSCC check digit")
    return value


Sscc = Annotated[str, AfterValidator(_sscc)]
Ref = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class NoData(BaseModel):
    pass


class LinePickedData(BaseModel):
    line_id: Ref
    sku: Ref
    bin: Ref
    tote_id: Ref | None = None
    qty: int = Field(gt=0)


class LinePutBackData(LinePickedData):
    putback_id: Ref


class OrderPackedData(BaseModel):
    sscc: Sscc
    carrier: Ref
    epcs: list[str] = Field(default_factory=list)


class ParcelSortedData(BaseModel):
    sscc: Sscc
    chute: Ref


class ParcelAtDoorData(BaseModel):
    sscc: Sscc
    door: Ref


class OrderExceptionData(BaseModel):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    detail: Any = None
