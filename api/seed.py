"""Initial stock from the site configs, written once.

A bin is created with its configured quantity (and a `seed` ledger row) only if the site
does not have it yet, so restarting never doubles stock; bins added to a config later are
added on the next start. Inserts use ON CONFLICT DO NOTHING, so two processes starting at
once cannot both seed a bin either.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import utcnow
from api.models import BinRow, LedgerRow, SiteRow, SkuRow
from controller.domain.layout import Site


def _insert(session: AsyncSession, model: type[Any]) -> Any:
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model)


async def seed_sites(session: AsyncSession, sites: Iterable[Site]) -> int:
    """Create what the configs describe and the database lacks; the number of bins seeded."""
    now = utcnow()
    seeded = 0
    for site in sites:
        await session.execute(
            _insert(session, SiteRow)
            .values(site=site.site, name=site.name, last_seq=0)
            .on_conflict_do_nothing()
        )
        for sku in site.skus:
            await session.execute(
                _insert(session, SkuRow)
                .values(sku=sku.sku, gtin=sku.gtin, name=sku.name, lot_tracked=sku.lot_tracked)
                .on_conflict_do_nothing()
            )
        existing = set(
            (await session.scalars(select(BinRow.bin).where(BinRow.site == site.site))).all()
        )
        for sku in site.skus:
            for b in sku.bins:
                if b.node in existing:
                    continue
                bin_id = await session.scalar(
                    _insert(session, BinRow)
                    .values(
                        site=site.site,
                        bin=b.node,
                        tote_id=b.tote_id,
                        sku=sku.sku,
                        on_hand=b.qty,
                        lot=b.lot,
                        expires_on=b.expires_on,
                    )
                    .on_conflict_do_nothing()
                    .returning(BinRow.id)
                )
                if bin_id is None:  # another process seeded it meanwhile
                    continue
                seeded += 1
                if b.qty:
                    session.add(
                        LedgerRow(
                            site=site.site,
                            bin_id=bin_id,
                            sku=sku.sku,
                            lot=b.lot,
                            qty_delta=b.qty,
                            reason="seed",
                            occurred_at=now,
                            recorded_at=now,
                        )
                    )
    return seeded
