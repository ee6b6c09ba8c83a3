"""`/api/v1/sites/{site}`: the edge controller's work feed and event ingest."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import Context, EdgeCaller, ReadSession, WriteSession
from api.errors import NotFound, problem_responses
from api.sites.feed import read_work, work_item_body
from api.sites.ingest import ingest
from api.sites.schemas import (
    DEFAULT_WORK_LIMIT,
    MAX_SEQ,
    MAX_WORK_LIMIT,
    WORK_ITEM,
    EventBatch,
    EventResults,
    WorkPage,
)
from controller.domain.layout import Site

router = APIRouter(prefix="/api/v1/sites", tags=["edge"])

SiteId = Annotated[str, Path(description="The site id of `config/sites/<site>.yaml`")]


def known_site(context: Context, site: str) -> Site:
    config = context.sites.get(site)
    if config is None:
        raise NotFound("site", site)
    return config


@router.get(
    "/{site}/work",
    response_model=WorkPage,
    responses=problem_responses(described={404: "No such site"}),
)
async def get_work(
    site: SiteId,
    caller: EdgeCaller,
    context: Context,
    session: ReadSession,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_WORK_LIMIT)] = DEFAULT_WORK_LIMIT,
) -> WorkPage:
    """Work items with `seq > after`, oldest first. Persist `next_after` and ask with it."""
    del caller
    known_site(context, site)
    async with session.begin():
        rows = await read_work(session, site=site, after=after, limit=limit)
    items = [WORK_ITEM.validate_python(work_item_body(r.seq, r.type, r.payload)) for r in rows]
    return WorkPage(items=items, next_after=rows[-1].seq if rows else after)


@router.post(
    "/{site}/events",
    response_model=EventResults,
    response_model_exclude_none=True,
    responses=problem_responses(
        described={
            404: "No such site",
            422: "A malformed envelope (event_id, type, order_id, occurred_at) or more than "
            "500 events; anything else wrong is a per-event `rejected` result",
        }
    ),
)
async def post_events(
    site: SiteId,
    caller: EdgeCaller,
    body: EventBatch,
    context: Context,
    session: WriteSession,
) -> EventResults:
    """Reports from the edge, at least once: one result per event, in order."""
    del caller
    known_site(context, site)
    outcome = await ingest(session, context.sites[site], body.events)
    for event_type, result in outcome.counts:
        context.metrics.event_ingested(event_type, result)
    for status in outcome.entered:
        context.metrics.order_entered(status)
    return EventResults(results=outcome.results)
