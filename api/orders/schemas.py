"""Wire models of the orders feature (DESIGN §5.1), snake_case JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from controller.domain.orders import OrderStatus, ParcelStatus

MAX_LINE_QTY = 1_000_000  # far above any order line; keeps sums inside 32-bit columns
MAX_LINES = 500

Ident = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:#-]*$")
]


def no_nul(value: str) -> str:
    """No database keeps a NUL character in text (PostgreSQL refuses it): refused here."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


Text = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(no_nul)]


def _as_utc(value: datetime | None) -> datetime | None:
    """An instant without a zone is taken as UTC; every instant is kept in UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-05:00 is past the last datetime
        raise ValueError("out of the range of datetimes once converted to UTC") from None


UtcInstant = Annotated[datetime, AfterValidator(_as_utc)]


class Customer(BaseModel):
    id: Text
    name: Text


class ShipTo(BaseModel):
    name: Text
    line1: Text
    line2: Text | None = None
    city: Text
    region: Text | None = None
    postal_code: Annotated[
        str, StringConstraints(min_length=1, max_length=20), AfterValidator(no_nul)
    ]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(
        description="ISO 3166-1 alpha-2"
    )


class OrderLineIn(BaseModel):
    line_id: Ident
    sku: Ident
    qty: int = Field(gt=0, le=MAX_LINE_QTY)


class OrderCreateRequest(BaseModel):
    """One released order, pushed by the ERP. Unknown fields are ignored."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order_id": "SO-1001",
                    "priority": 5,
                    "ship_to": {
                        "name": "Ada Lovelace",
                        "line1": "1 Analytical Way",
                        "city": "London",
                        "postal_code": "N1 9GU",
                        "country": "GB",
                    },
                    "carrier": "DHL",
                    "lines": [{"line_id": "10", "sku": "SKU-0003", "qty": 2}],
                }
            ]
        }
    )

    order_id: Ident
    site: Ident | None = Field(
        default=None, description="The site to fulfil from; optional when one site is configured"
    )
    channel: Text | None = None
    priority: int = Field(default=5, ge=0, le=9, description="0-9, 9 most urgent")
    ship_by: UtcInstant | None = None
    customer: Customer | None = None
    ship_to: ShipTo
    carrier: Ident | None = None
    service: Text | None = None
    lines: list[OrderLineIn] = Field(min_length=1, max_length=MAX_LINES)
    version: int = Field(
        default=1,
        ge=1,
        le=2**31 - 1,
        description="The ERP's version of the order. A push with a higher version amends it "
        "(its lines replace the old ones) while nothing is picked; a lower one is refused",
    )


def header_columns(request: OrderCreateRequest) -> dict[str, Any]:
    """The order columns an ERP's push sets (all but the lines), as stored."""
    return {
        "channel": request.channel,
        "priority": request.priority,
        "ship_by": request.ship_by,
        "customer": request.customer.model_dump(mode="json") if request.customer else None,
        "ship_to": request.ship_to.model_dump(mode="json"),
        "carrier": request.carrier,
        "service": request.service,
        "version": request.version,
    }


class AllocationOut(BaseModel):
    bin: str
    tote_id: str
    qty: int


class OrderLineOut(BaseModel):
    line_id: str
    sku: str
    qty: int
    reserved_qty: int = Field(description="Reserved for this line (including what was picked)")
    backordered_qty: int = Field(description="Not reserved yet: waits for stock (qty - reserved)")
    picked_qty: int
    shipped_qty: int
    allocations: list[AllocationOut]


class ParcelOut(BaseModel):
    sscc: str
    carrier: str
    tracking: str | None
    status: ParcelStatus
    chute: str | None
    door: str | None


class TimelineEvent(BaseModel):
    event_id: str
    type: str
    occurred_at: datetime
    data: dict[str, Any]


class OrderResponse(BaseModel):
    order_id: str
    site: str
    status: OrderStatus
    status_reason: str | None
    version: int
    channel: str | None
    priority: int
    ship_by: datetime | None
    customer: Customer | None
    ship_to: ShipTo
    carrier: str | None
    service: str | None
    lines: list[OrderLineOut]
    parcels: list[ParcelOut]
    events: list[TimelineEvent]
    created_at: datetime
    updated_at: datetime


class OrderPage(BaseModel):
    items: list[OrderResponse]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )
