"""`/api/v1/sites/{site}/agvs`: the operator's view of a site's AGV fleet, pushed by its edge."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from api.db import utcnow
from api.deps import Context, EdgeCaller, FleetReader, ReadSession, WriteSession
from api.errors import FieldError, InvalidRequest, problem_responses
from api.fleet.schemas import (
    AgvStatus,
    AgvView,
    FleetPush,
    FleetPushResult,
    FleetPushResults,
    FleetView,
)
from api.fleet.store import fleet_of, store_newest
from api.sites.router import SiteId, known_site
from controller.domain.layout import Site

router = APIRouter(prefix="/api/v1/sites", tags=["fleet"])

# The edge pushes every few seconds while it runs (edge/fleet.py); silence for longer than
# this means the edge is down or cut off and the snapshot may be out of date.
REPORT_STALE_AFTER = timedelta(seconds=60)


@router.get(
    "/{site}/agvs",
    response_model=FleetView,
    responses=problem_responses(described={404: "No such site"}),
)
async def get_fleet(
    site: SiteId, caller: FleetReader, context: Context, session: ReadSession
) -> FleetView:
    """Every AGV of the site's config with its newest snapshot: connection, operating mode,
    battery, position, current order and progress, errors."""
    del caller
    config = known_site(context, site)
    async with session.begin():
        rows = await fleet_of(session, site)
    now = utcnow()
    views = []
    for agv in sorted(config.agvs, key=lambda a: a.serial_number):
        row = rows.get(agv.serial_number)
        views.append(
            AgvView(
                serial_number=agv.serial_number,
                manufacturer=agv.manufacturer,
                reported_at=row.reported_at if row else None,
                report_stale=row is None or now - row.reported_at > REPORT_STALE_AFTER,
                status=AgvStatus.model_validate(row.status) if row else None,
            )
        )
    return FleetView(site=site, agvs=views)


@router.put(
    "/{site}/agvs",
    response_model=FleetPushResults,
    responses=problem_responses(
        described={
            404: "No such site",
            422: "A malformed snapshot, or an AGV (serial number and manufacturer) that is not "
            "in the site's config (`errors` names each)",
        }
    ),
)
async def put_fleet(
    site: SiteId, body: FleetPush, caller: EdgeCaller, context: Context, session: WriteSession
) -> FleetPushResults:
    """The edge's newest snapshots: each is stored unless the API holds one at least as new
    (`stale`), so pushes may arrive late, twice or out of order."""
    del caller
    config = known_site(context, site)
    _check_agvs(config, body.agvs)
    async with session.begin():
        stored = {id(snap) for snap in await store_newest(session, site, body.agvs, utcnow())}
    return FleetPushResults(
        results=[
            FleetPushResult(
                serial_number=snap.serial_number,
                status="stored" if id(snap) in stored else "stale",
            )
            for snap in body.agvs
        ]
    )


def _check_agvs(site: Site, snapshots: list[AgvStatus]) -> None:
    manufacturers = {agv.serial_number: agv.manufacturer for agv in site.agvs}
    errors = []
    for i, snap in enumerate(snapshots):
        expected = manufacturers.get(snap.serial_number)
        if expected is None:
            errors.append(
                FieldError(
                    f"agvs[{i}].serial_number",
                    f"no AGV {snap.serial_number!r} at site {site.site!r}",
                )
            )
        elif expected != snap.manufacturer:
            errors.append(
                FieldError(
                    f"agvs[{i}].manufacturer",
                    f"AGV {snap.serial_number!r} is made by {expected!r}, not "
                    f"{snap.manufacturer!r}",
                )
            )
    if errors:
        raise InvalidRequest(errors)
