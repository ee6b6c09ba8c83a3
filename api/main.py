"""The central API process: `create_app()` wires settings, database, sites and routes.

Run it with `uvicorn --factory api.main:create_app` (settings from `WH_*` variables).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from api import health
from api.auth import KeyRing
from api.context import AppContext
from api.db import Database
from api.errors import install_error_handlers
from api.fleet.router import router as fleet_router
from api.metrics import Metrics
from api.migrate import migrated
from api.orders.intake import IntakeWriter
from api.orders.router import router as orders_router
from api.seed import seed_sites
from api.settings import ApiSettings, get_settings
from api.sites.router import router as sites_router
from api.stock.router import router as stock_router
from api.webhooks.router import router as webhooks_router
from api.webhooks.worker import DeliveryWorker
from controller.domain.layout import Site
from controller.routing import distances_to_nearest
from controller.siteconfig import load_site

log = logging.getLogger(__name__)


def station_distances(site: Site) -> dict[str, float]:
    """Each bin's distance along the floor to its nearest station (closest-to-station)."""
    reach = distances_to_nearest(site, frozenset(station.node for station in site.stations))
    return {b.node: reach.get(b.node, float("inf")) for sku in site.skus for b in sku.bins}


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    context = AppContext(settings=settings, keys=KeyRing(settings.api_keys), metrics=Metrics())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sites = {}
        for path in settings.site_configs:
            site = load_site(path)
            if site.site in sites:
                raise ValueError(f"{path}: site {site.site!r} is configured twice")
            sites[site.site] = site
        db = Database.connect(
            settings.database_url,
            busy_timeout_s=settings.sqlite_busy_timeout_s,
            echo=settings.database_echo,
        )
        try:
            # One process at a time (`uvicorn --workers N` on a fresh database): the first
            # builds the schema and seeds, the others wait for the lock and find it done.
            # The seeding is on the lock's connection: on SQLite, another connection would
            # wait for this one's write lock.
            async with (
                migrated(db.engine) as (conn, upgraded),
                AsyncSession(bind=conn) as session,
            ):
                seeded = await seed_sites(session, sites.values())
                await session.flush()  # committed with the lock's transaction
            log.info(
                "schema %s; sites %s ready; %d bins seeded",
                "upgraded" if upgraded else "at head",
                sorted(sites),
                seeded,
            )
            context.db, context.sites = db, sites
            context.distances = {site.site: station_distances(site) for site in sites.values()}
            context.intake = IntakeWriter(db, context.distances, context.metrics.stock_signals)
            context.intake.start()
            async with DeliveryWorker.running(db, settings.webhooks, context.metrics):
                yield
        finally:
            if context.intake is not None:
                await context.intake.stop()
                context.intake = None
            context.db = None
            await db.dispose()

    app = FastAPI(
        title="Smart warehouse controller: central API",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.context = context
    install_error_handlers(app)
    app.include_router(orders_router)
    app.include_router(stock_router)
    app.include_router(sites_router)
    app.include_router(fleet_router)
    app.include_router(webhooks_router)
    app.include_router(health.router)
    return app
