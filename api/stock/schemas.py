"""Wire models of the stock feature (DESIGN §5.1)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from api.orders.schemas import MAX_LINE_QTY, MAX_LINES, Ident, Text
from controller.domain.orders import OrderStatus


class StockLocation(BaseModel):
    site: str
    bin: str
    tote_id: str
    on_hand: int
    reserved: int
    available: int


class SiteStock(BaseModel):
    """One SKU at one site."""

    site: str
    on_hand: int
    reserved: int = Field(description="Held by open reservations")
    expired: int = Field(description="On hand in lots past their expiry date: never sold")
    available: int = Field(
        description="Free to reserve: on hand less reserved in sellable bins, never below 0 "
        "per bin (the figure safety stock is measured against)"
    )
    backordered: int = Field(
        description="Units that orders waiting for stock (partially reserved or backordered) "
        "want and do not have"
    )
    available_to_promise: int = Field(description="available - backordered, never below 0")
    safety_stock: int
    below_safety_stock: bool = Field(description="available < safety_stock")


class StockResponse(BaseModel):
    sku: str
    gtin: str
    name: str
    on_hand: int
    reserved: int = Field(description="Held by open reservations")
    available: int = Field(description="on_hand - reserved, never below 0 per bin")
    locations: list[StockLocation]
    sites: list[SiteStock]


class LedgerEntry(BaseModel):
    site: str
    bin: str | None = Field(description="null: the site's staging area (picked, not shipped)")
    sku: str
    lot: str | None
    qty_delta: int
    reason: str = Field(description="seed | receipt | adjustment | pick | put_back | ship")
    reference: str | None = Field(description="The receipt, adjustment or put-back id")
    order_id: str | None
    occurred_at: datetime
    recorded_at: datetime


class LedgerPage(BaseModel):
    items: list[LedgerEntry]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class ReceiptLineIn(BaseModel):
    bin: Ident
    sku: Ident
    qty: int = Field(gt=0, le=MAX_LINE_QTY)
    lot: Ident | None = Field(default=None, description="Required for lot-tracked SKUs only")
    expires_on: date | None = Field(default=None, description="Required for lot-tracked SKUs only")
    tote_id: Ident | None = Field(
        default=None,
        description="The tote the stock arrives in; only for an empty bin (default: the "
        "bin's tote)",
    )


class ReceiptRequest(BaseModel):
    """Stock put away into bins. Posting the same `receipt_id` again with the same body
    answers 200 with the first answer; with another body 409."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "receipt_id": "GR-1001",
                    "site": "demo",
                    "lines": [{"bin": "A1-03", "sku": "SKU-0003", "qty": 24}],
                }
            ]
        }
    )

    receipt_id: Ident
    site: Ident
    lines: list[ReceiptLineIn] = Field(min_length=1, max_length=MAX_LINES)


class AdjustmentLineIn(BaseModel):
    bin: Ident
    counted_qty: int = Field(ge=0, le=MAX_LINE_QTY, description="What the count found")
    reason: Text | None = None


class AdjustmentRequest(BaseModel):
    """A count: each bin's on hand becomes `counted_qty`. Posting the same `adjustment_id`
    again with the same body answers 200 with the first answer; with another body 409."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "adjustment_id": "CC-2001",
                    "site": "demo",
                    "lines": [{"bin": "A1-03", "counted_qty": 37, "reason": "cycle count"}],
                }
            ]
        }
    )

    adjustment_id: Ident
    site: Ident
    lines: list[AdjustmentLineIn] = Field(min_length=1, max_length=MAX_LINES)


class OrderStockChange(BaseModel):
    """An order whose reservations a receipt or count changed."""

    order_id: str
    status: OrderStatus
    status_reason: str | None
    reserved_delta: int = Field(description="Units reserved (+) or given up (-), net")
    released_to_site: bool = Field(
        description="A new revision (`revision`) was put on the site's work feed"
    )
    revision: int


class ReceiptLineOut(BaseModel):
    bin: str
    tote_id: str
    sku: str
    lot: str | None
    expires_on: date | None
    qty: int
    on_hand: int = Field(description="The bin's on hand after this line")


class ReceiptResponse(BaseModel):
    receipt_id: str
    site: str
    recorded_at: datetime
    lines: list[ReceiptLineOut]
    orders: list[OrderStockChange] = Field(description="Backorders the receipt gave stock to")


class AdjustmentLineOut(BaseModel):
    bin: str
    tote_id: str
    sku: str
    lot: str | None
    previous_qty: int
    counted_qty: int
    delta: int
    reason: str | None


class ShortageOut(BaseModel):
    bin: str
    sku: str
    short_qty: int = Field(description="Reserved beyond the counted quantity")
    reallocated_qty: int = Field(description="Of that, reserved again from other bins")
    orders: list[str] = Field(description="The orders whose reservations were cut")


class AdjustmentResponse(BaseModel):
    adjustment_id: str
    site: str
    recorded_at: datetime
    lines: list[AdjustmentLineOut]
    shortages: list[ShortageOut]
    orders: list[OrderStockChange] = Field(
        description="Orders whose reservations the count cut, moved or added to"
    )
