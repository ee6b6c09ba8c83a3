"""`/api/v1/stock`: what is where, and how much of it is spoken for."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ReadSession, StockReader
from api.errors import NotFound, problem_responses
from api.stock.queries import stock_of
from api.stock.schemas import StockResponse

router = APIRouter(prefix="/api/v1/stock", tags=["stock"])


@router.get("/{sku}", response_model=StockResponse, responses=problem_responses(404))
async def get_stock(sku: str, caller: StockReader, session: ReadSession) -> StockResponse:
    del caller
    if "\x00" in sku:  # no SKU holds one, and PostgreSQL refuses it in a query
        raise NotFound("sku", sku)
    async with session.begin():
        stock = await stock_of(session, sku)
    if stock is None:
        raise NotFound("sku", sku)
    return stock
