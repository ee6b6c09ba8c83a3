"""A site's work feed (docs/protocols.md, "Work feed"): append and read.

`seq` is per site and comes from the site row's counter, bumped by the appending
transaction. That bump locks the row until commit, so a later seq can never become visible
before an earlier one: an edge that saw seq 8 has already seen seq 7. (A database sequence
would hand out 7 and 8 to two transactions and let 8 commit first.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import SiteRow, WorkItemRow

ORDER_RELEASED = "order.released"
ORDER_CANCEL = "order.cancel"
PUTBACK_REQUESTED = "putback.requested"


def work_item_body(seq: int, type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A stored item as the feed shows it (docs/protocols.md, "Work feed")."""
    if type == ORDER_RELEASED:
        return {"seq": seq, "type": type, "order": payload}
    if type == PUTBACK_REQUESTED:
        return {"seq": seq, "type": type, "putback": payload}
    return {"seq": seq, "type": type, **payload}


async def append_work_item(
    session: AsyncSession,
    *,
    site: str,
    type: str,
    order_pk: int,
    payload: dict[str, Any],
    now: datetime,
) -> int:
    seq = await session.scalar(
        update(SiteRow)
        .where(SiteRow.site == site)
        .values(last_seq=SiteRow.last_seq + 1)
        .returning(SiteRow.last_seq)
        .execution_options(synchronize_session=False)
    )
    if seq is None:
        raise LookupError(f"site {site!r} is not in the database")
    session.add(
        WorkItemRow(
            site=site, seq=seq, type=type, order_pk=order_pk, payload=payload, created_at=now
        )
    )
    return seq


async def read_work(
    session: AsyncSession, *, site: str, after: int, limit: int
) -> list[WorkItemRow]:
    """Items with `seq > after`, oldest first, at most `limit`."""
    stmt = (
        select(WorkItemRow)
        .where(WorkItemRow.site == site, WorkItemRow.seq > after)
        .order_by(WorkItemRow.seq)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())
