"""`/api/v1/orders`: the ERP pushes orders and reads them back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.db import utcnow
from api.deps import Context, ErpCaller, ReadSession, WriteSession
from api.errors import NotFound, problem_responses
from api.orders import queries
from api.orders.cancel import cancel_order
from api.orders.schemas import OrderCreateRequest, OrderPage, OrderResponse, Text
from api.orders.service import submit_order
from controller.domain.orders import OrderStatus

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])

DEFAULT_PAGE = 50
MAX_PAGE = 200


@router.post(
    "",
    status_code=201,
    response_model=OrderResponse,
    responses={
        **problem_responses(
            described={
                409: "`order-conflict`: the order id was pushed with another body at the same "
                "version; `stale-order-version`: a lower version than stored "
                "(`current_version` says which); `order-cancelled`: the order is cancelled "
                "or being cancelled, a late push is refused; `amendment-refused`: a higher "
                "version arrived after picking started, or the site holds the order and the "
                "new lines cannot be reserved in full",
                422: "Invalid body (`errors` names each field: unknown site, unknown SKU at "
                "the site, duplicate line id, qty <= 0, incomplete address, unknown carrier); "
                "or `idempotency-key-reused`: the Idempotency-Key was used with another body",
                503: "The API is starting or stopping: retry (the push was not taken)",
            }
        ),
        200: {"model": OrderResponse, "description": "A retried push: the stored order"},
    },
)
async def create_order(
    caller: ErpCaller,
    body: OrderCreateRequest,
    context: Context,
    response: Response,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
    ] = None,
) -> OrderResponse | JSONResponse:
    """Reserve stock for a released order, at bin level, and answer at once."""
    submission = await submit_order(
        context.intake_writer(),
        body,
        sites=context.sites,
        principal=caller,
        idempotency_key=idempotency_key,
    )
    for status in submission.entered:
        context.metrics.order_entered(status)
    if submission.replay is not None:
        return JSONResponse(submission.replay, status_code=submission.status_code)
    response.status_code = submission.status_code
    return submission.order


@router.get(
    "/{order_id}",
    response_model=OrderResponse,
    responses=problem_responses(described={404: "No such order"}),
)
async def get_order(order_id: str, caller: ErpCaller, session: ReadSession) -> OrderResponse:
    del caller
    if "\x00" in order_id:  # no id holds one, and PostgreSQL refuses it in a query
        raise NotFound("order", order_id)
    async with session.begin():
        order = await queries.load_order(session, order_id=order_id)
        if order is None:
            raise NotFound("order", order_id)
        return queries.to_response(order)


@router.get(
    "",
    response_model=OrderPage,
    responses=problem_responses(
        described={422: "A `cursor` this API did not give out, or `limit` out of 1-200"}
    ),
)
async def list_orders(
    caller: ErpCaller,
    session: ReadSession,
    status: OrderStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> OrderPage:
    """Orders oldest first, optionally of one status; follow `next_cursor` for more."""
    del caller
    async with session.begin():
        rows, next_cursor = await queries.list_orders(
            session, status=status, limit=limit, cursor=cursor
        )
        return OrderPage(items=[queries.to_response(r) for r in rows], next_cursor=next_cursor)


class CancelRequest(BaseModel):
    reason: Text | None = Field(default=None, description="Why, for the order's timeline")


@router.post(
    "/{order_id}/cancel",
    response_model=OrderResponse,
    responses={
        **problem_responses(
            described={
                404: "No such order",
                409: "`cancel-refused`: the order has shipped",
            }
        ),
        202: {
            "model": OrderResponse,
            "description": "The site holds the order: `cancel_requested` until it confirms",
        },
    },
)
async def cancel(
    order_id: str,
    caller: ErpCaller,
    context: Context,
    session: WriteSession,
    response: Response,
    body: CancelRequest | None = None,
) -> OrderResponse:
    """Cancel what is not shipped: 200 when cancelled now (or already), 202 while the site
    stops the order; 409 once it has shipped. Units already picked are put back."""
    del caller
    if "\x00" in order_id:
        raise NotFound("order", order_id)
    async with session.begin():
        code, order = await cancel_order(session, order_id, body.reason if body else None, utcnow())
    response.status_code = code
    return order
