"""Request dependencies, as `Annotated` types: the app context, sessions, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.context import AppContext
from api.errors import Forbidden, Unauthenticated
from api.settings import Scope

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")


async def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]


async def _read_session(context: Context) -> AsyncIterator[AsyncSession]:
    async with context.database().reader() as session:
        yield session


async def _write_session(context: Context) -> AsyncIterator[AsyncSession]:
    async with context.database().writer() as session:
        yield session


# Read-only work: on SQLite a deferred BEGIN, never waiting for writers (WAL).
ReadSession = Annotated[AsyncSession, Depends(_read_session)]
# Work that writes: on SQLite BEGIN IMMEDIATE. The handler opens its own transaction(s).
WriteSession = Annotated[AsyncSession, Depends(_write_session)]


async def _principal(
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("an API key is required: `Authorization: Bearer <key>`")
    principal = context.keys.authenticate(credentials.credentials)
    if principal is None:
        raise Unauthenticated("unknown API key")
    return principal


def require(*allowed: Scope) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency: the caller, who must hold one of `allowed` (or `admin`)."""

    async def _check(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        if not principal.may(allowed):
            raise Forbidden([*allowed, Scope.ADMIN])
        return principal

    return _check


ErpCaller = Annotated[Principal, Depends(require(Scope.ERP))]
EdgeCaller = Annotated[Principal, Depends(require(Scope.EDGE))]
StockReader = Annotated[Principal, Depends(require(Scope.ERP, Scope.OPS, Scope.EDGE))]
# The fleet view: operations, and the edge that pushes it.
FleetReader = Annotated[Principal, Depends(require(Scope.OPS, Scope.EDGE))]
# Receipts and counts: from the ERP (goods receipts, physical inventory) or operations.
StockKeeper = Annotated[Principal, Depends(require(Scope.ERP, Scope.OPS))]
