"""A receipt or count as a route runs it: one write transaction, tried again when
PostgreSQL gives it up to a deadlock, then its signals counted.

A document locks its bins and then the orders holding stock in them, while an edge event
or an amendment locks an order and then its bins: PostgreSQL may then find a deadlock and
abort one side. The document is simply tried again (its id makes that safe)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from api.context import AppContext
from api.db import utcnow
from api.stock.documents import DocumentOutcome

log = logging.getLogger(__name__)

ATTEMPTS = 3
RETRY_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure

Apply = Callable[[AsyncSession, datetime], Awaitable[DocumentOutcome]]


async def run_document(context: AppContext, apply: Apply) -> DocumentOutcome:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with context.database().writer() as session, session.begin():
                outcome = await apply(session, utcnow())
            break
        except DBAPIError as exc:
            if attempt == ATTEMPTS or getattr(exc.orig, "sqlstate", None) not in RETRY_SQLSTATES:
                raise
            log.info("stock document lost a lock race (attempt %d): %s", attempt, exc.orig)
    context.metrics.stock_signals(outcome.signals)
    for status in outcome.entered:
        context.metrics.order_entered(status)
    return outcome
