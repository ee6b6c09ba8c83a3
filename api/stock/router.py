"""`/api/v1/stock`: what is where and how much of it is spoken for; stock in (receipts)
and counts (adjustments)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.db import utcnow
from api.deps import Context, ReadSession, StockKeeper, StockReader
from api.errors import FieldError, InvalidRequest, NotFound, problem_responses
from api.stock.counts import apply_adjustment
from api.stock.queries import DEFAULT_LEDGER_PAGE, MAX_LEDGER_PAGE, ledger_of, stock_of
from api.stock.receipts import apply_receipt
from api.stock.schemas import (
    AdjustmentRequest,
    AdjustmentResponse,
    LedgerPage,
    ReceiptRequest,
    ReceiptResponse,
    StockResponse,
)
from api.stock.service import run_document

router = APIRouter(prefix="/api/v1/stock", tags=["stock"])

UNKNOWN_SKU = {404: "No such SKU"}
DOCUMENT_CONFLICT = "The id was already posted with a different body (`document-conflict`)"


@router.post(
    "/receipts",
    status_code=201,
    response_model=ReceiptResponse,
    responses={
        200: {"model": ReceiptResponse, "description": "A retry: the first answer, as it was"},
        **problem_responses(
            described={
                409: DOCUMENT_CONFLICT + ", or a line's bin holds another SKU, lot or tote "
                "(`bin-conflict`; `errors` names the lines)",
                422: "Invalid request (unknown site, bin or SKU at the site; lot and expiry "
                "missing for a lot-tracked SKU or given for another); `errors` names the "
                "fields",
            }
        ),
    },
)
async def post_receipt(caller: StockKeeper, body: ReceiptRequest, context: Context) -> JSONResponse:
    """Put stock away into bins (a ledger row `receipt` per line), then give it to the orders
    waiting for it, by priority then ship-by; those now fully reserved are released to
    their site."""
    del caller
    outcome = await run_document(
        context,
        lambda session, now: apply_receipt(
            session, body, sites=context.sites, distances=context.distances, now=now
        ),
    )
    return JSONResponse(outcome.body, status_code=outcome.status_code)


@router.post(
    "/adjustments",
    status_code=201,
    response_model=AdjustmentResponse,
    responses={
        200: {
            "model": AdjustmentResponse,
            "description": "A retry: the first answer, as it was",
        },
        **problem_responses(
            described={
                409: DOCUMENT_CONFLICT,
                422: "Invalid request (unknown site or bin, a bin counted twice); `errors` "
                "names the fields",
            }
        ),
    },
)
async def post_adjustment(
    caller: StockKeeper, body: AdjustmentRequest, context: Context
) -> JSONResponse:
    """Set each bin's on hand to what a count found (a ledger row `adjustment` of the
    difference). Reservations beyond what is left are cut, least urgent first, and
    re-allocated from other bins where possible (`shortages`); stock found in excess goes
    to the orders waiting for it."""
    del caller
    outcome = await run_document(
        context,
        lambda session, now: apply_adjustment(
            session, body, sites=context.sites, distances=context.distances, now=now
        ),
    )
    return JSONResponse(outcome.body, status_code=outcome.status_code)


@router.get(
    "/{sku}",
    response_model=StockResponse,
    responses=problem_responses(described=UNKNOWN_SKU),
)
async def get_stock(
    sku: str, caller: StockReader, context: Context, session: ReadSession
) -> StockResponse:
    """On hand, reserved and available per bin, and per site with what waiting orders want
    (`backordered`), what can still be promised and where safety stock is undercut."""
    del caller
    if "\x00" in sku:  # no SKU holds one, and PostgreSQL refuses it in a query
        raise NotFound("sku", sku)
    async with session.begin():
        stock = await stock_of(session, sku, sites=context.sites, today=utcnow().date())
    if stock is None:
        raise NotFound("sku", sku)
    return stock


@router.get(
    "/{sku}/ledger",
    response_model=LedgerPage,
    responses=problem_responses(described=UNKNOWN_SKU),
)
async def get_ledger(
    sku: str,
    caller: StockReader,
    session: ReadSession,
    site: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LEDGER_PAGE)] = DEFAULT_LEDGER_PAGE,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> LedgerPage:
    """Every change of the SKU's stock, oldest first, optionally at one site."""
    del caller
    if "\x00" in sku:
        raise NotFound("sku", sku)
    if site is not None and "\x00" in site:
        raise InvalidRequest([FieldError("site", "must not contain NUL", location="query")])
    async with session.begin():
        page = await ledger_of(session, sku, site=site, limit=limit, cursor=cursor)
    if page is None:
        raise NotFound("sku", sku)
    return page
