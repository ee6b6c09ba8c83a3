"""Liveness, readiness and metrics: unauthenticated, for orchestrators and Prometheus."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response

from api.deps import Context
from api.errors import Unavailable
from api.metrics import CONTENT_TYPE

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(context: Context) -> dict[str, str]:
    """The database answers."""
    try:
        await context.database().ping()
    except Exception as exc:
        log.warning("readiness check failed: %s", exc)
        raise Unavailable(f"the database does not answer: {type(exc).__name__}") from exc
    return {"status": "ready"}


@router.get("/metrics", response_class=Response)
async def metrics(context: Context) -> Response:
    return Response(context.metrics.render(), media_type=CONTENT_TYPE)
