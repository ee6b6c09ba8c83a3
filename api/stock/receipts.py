"""`POST /stock/receipts`: stock put away into bins, then given to the orders waiting for it.

Each line adds to a bin's on hand with a ledger row `receipt` (reference: the receipt id).
A bin holds one tote of one SKU (and one lot of a lot-tracked SKU): a line into a bin
holding other stock is a 409 (`bin-conflict`); an empty bin takes whatever comes, and its
`received_at` becomes now, so FIFO sees the stock as the newest. In the same transaction
the SKUs received go to their backorders (api/stock/backorders.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import BinConflict, FieldError, InvalidRequest
from api.models import BinRow, LedgerRow
from api.stock.availability import SkuStock
from api.stock.backorders import fill_backorders
from api.stock.bins import existing_bins, lock_named_bins
from api.stock.documents import RECEIPT, DocumentOutcome, claim, digest, store_answer
from api.stock.orderbook import OrderBook
from api.stock.schemas import ReceiptLineOut, ReceiptRequest, ReceiptResponse
from api.stock.settle import settle
from api.stock.signals import StockSignals, announce_low_stock, low_stock_crossings
from api.stock.validation import bin_errors, by_line, known_site, receipt_line_errors
from controller.domain.layout import Site


async def apply_receipt(
    session: AsyncSession,
    request: ReceiptRequest,
    *,
    sites: Mapping[str, Site],
    distances: Mapping[str, Mapping[str, float]],
    now: datetime,
) -> DocumentOutcome:
    stored = await claim(session, RECEIPT, request.receipt_id, digest(request), now)
    if stored is not None:
        return DocumentOutcome(200, stored)
    site = known_site(request.site, sites)
    codes = [line.bin for line in request.lines]
    errors = bin_errors(site, codes, await existing_bins(session, site.site, codes))
    errors += receipt_line_errors(site, request.lines)
    if errors:
        raise InvalidRequest(by_line(errors))
    skus = {line.sku for line in request.lines}
    stock, bins = await lock_named_bins(session, site.site, codes, skus)
    conflicts = await _conflicts(session, site.site, request, bins, stock)
    if conflicts:
        raise BinConflict(conflicts)
    today = now.date()
    before = {pair: entry.total_available(today) for pair, entry in stock.items()}
    lines = [_put_away(session, request, i, bins, stock, now) for i in range(len(request.lines))]

    book = OrderBook(session, now)
    await fill_backorders(
        book, stock, site, skus, today=today, distances=distances.get(site.site, {})
    )
    settled = await settle(book, site, document=f"receipt {request.receipt_id}", now=now)
    low = low_stock_crossings(stock, before, today, {site.site: site})
    await announce_low_stock(session, low, now)

    body = ReceiptResponse(
        receipt_id=request.receipt_id,
        site=site.site,
        recorded_at=now,
        lines=lines,
        orders=settled.changes,
    ).model_dump(mode="json")
    await store_answer(session, RECEIPT, request.receipt_id, body)
    return DocumentOutcome(201, body, StockSignals(low=low), settled.entered)


@dataclass
class _Held:
    """What a bin holds, as the receipt's lines are played onto it one by one."""

    sku: str
    lot: str | None
    expires_on: date | None
    tote_id: str
    on_hand: int
    reserved: int

    @property
    def empty(self) -> bool:
        return self.on_hand == 0 and self.reserved == 0


async def _conflicts(
    session: AsyncSession,
    site: str,
    request: ReceiptRequest,
    bins: Mapping[str, BinRow],
    stock: Mapping[tuple[str, str], SkuStock],
) -> list[FieldError]:
    held = {
        code: _Held(
            row.sku,
            row.lot,
            row.expires_on,
            row.tote_id,
            row.on_hand,
            row.on_hand - stock[(site, row.sku)].available[code],
        )
        for code, row in bins.items()
    }
    totes = await _tote_homes(session, site, request)
    errors = []
    for i, line in enumerate(request.lines):
        h = held[line.bin]
        where = f"bin {line.bin!r} holds {h.on_hand} of {h.sku!r}"
        if line.tote_id is not None and totes.get(line.tote_id, line.bin) != line.bin:
            errors.append(
                FieldError(
                    f"lines[{i}].tote_id",
                    f"tote {line.tote_id!r} is in bin {totes[line.tote_id]!r}",
                    type="conflict",
                )
            )
        elif h.empty:
            h.sku, h.lot, h.expires_on = line.sku, line.lot, line.expires_on
            h.tote_id = line.tote_id or h.tote_id
        elif h.sku != line.sku:
            errors.append(
                FieldError(
                    f"lines[{i}].sku",
                    f"{where}; it takes another SKU only once empty",
                    type="conflict",
                )
            )
        elif (h.lot, h.expires_on) != (line.lot, line.expires_on):
            errors.append(
                FieldError(
                    f"lines[{i}].lot",
                    f"{where}, lot {h.lot!r} expiring {h.expires_on}; "
                    "it takes another lot only once empty",
                    type="conflict",
                )
            )
        elif line.tote_id is not None and line.tote_id != h.tote_id:
            errors.append(
                FieldError(
                    f"lines[{i}].tote_id",
                    f"{where} in tote {h.tote_id!r}; it takes another tote only once empty",
                    type="conflict",
                )
            )
        h.on_hand += line.qty
    return errors


async def _tote_homes(session: AsyncSession, site: str, request: ReceiptRequest) -> dict[str, str]:
    """Tote id → the bin it holds stock in, for the totes the receipt names (an empty bin's
    tote may have been taken away and used again)."""
    totes = sorted({line.tote_id for line in request.lines if line.tote_id is not None})
    if not totes:
        return {}
    rows = await session.execute(
        select(BinRow.tote_id, BinRow.bin).where(
            BinRow.site == site, BinRow.tote_id.in_(totes), BinRow.on_hand > 0
        )
    )
    return {str(tote): str(code) for tote, code in rows.all()}


def _put_away(
    session: AsyncSession,
    request: ReceiptRequest,
    i: int,
    bins: Mapping[str, BinRow],
    stock: Mapping[tuple[str, str], SkuStock],
    now: datetime,
) -> ReceiptLineOut:
    line = request.lines[i]
    row = bins[line.bin]
    if row.on_hand == 0:
        if row.sku != line.sku:  # the empty bin changes hands: its availability follows it
            old, new = stock[(row.site, row.sku)], stock[(row.site, line.sku)]
            new.bins[line.bin] = old.bins.pop(line.bin)
            new.available[line.bin] = old.available.pop(line.bin)
        row.sku, row.lot, row.expires_on = line.sku, line.lot, line.expires_on
        row.tote_id = line.tote_id or row.tote_id
        row.received_at = now
    row.on_hand += line.qty
    stock[(row.site, line.sku)].take(line.bin, -line.qty)
    session.add(
        LedgerRow(
            site=row.site,
            bin_id=row.id,
            sku=line.sku,
            lot=line.lot,
            qty_delta=line.qty,
            reason="receipt",
            reference=request.receipt_id,
            occurred_at=now,
            recorded_at=now,
        )
    )
    return ReceiptLineOut(
        bin=row.bin,
        tote_id=row.tote_id,
        sku=row.sku,
        lot=row.lot,
        expires_on=row.expires_on,
        qty=line.qty,
        on_hand=row.on_hand,
    )
