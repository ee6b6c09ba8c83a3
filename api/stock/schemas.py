"""Wire models of the stock feature (DESIGN §5.1)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StockLocation(BaseModel):
    site: str
    bin: str
    tote_id: str
    on_hand: int
    reserved: int
    available: int


class StockResponse(BaseModel):
    sku: str
    gtin: str
    name: str
    on_hand: int
    reserved: int = Field(description="Held by open reservations")
    available: int = Field(description="on_hand - reserved, never below 0 per bin")
    locations: list[StockLocation]
