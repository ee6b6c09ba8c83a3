"""Receipts and adjustments are idempotent by their client-chosen id (`stock_documents`).

The document's row is claimed first thing in the transaction, with an insert that does
nothing on conflict: two posts of one id at once cannot both apply it (on PostgreSQL the
second insert waits for the first transaction and then finds its row; on SQLite writers
take turns). The row's answer is filled in before the same transaction commits.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import DocumentConflict
from api.models import StockDocumentRow
from api.stock.signals import StockSignals
from controller.domain.orders import OrderStatus

RECEIPT = "receipt"
ADJUSTMENT = "adjustment"


@dataclass
class DocumentOutcome:
    status_code: int  # 201 applied now; 200 a retry, answered with the stored answer
    body: dict[str, Any]
    signals: StockSignals = field(default_factory=StockSignals)
    entered: list[OrderStatus] = field(default_factory=list)  # order statuses (metrics)


def digest(request: BaseModel) -> str:
    """The normalised body's fingerprint: equal for bodies that mean the same document."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(
    session: AsyncSession, kind: str, document_id: str, request_hash: str, now: datetime
) -> dict[str, Any] | None:
    """None when this transaction now owns the document id; else the answer stored for it
    (a retry). Another body under a stored id raises DocumentConflict."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    claimed = await session.scalar(
        dialect.insert(StockDocumentRow)
        .values(
            kind=kind,
            document_id=document_id,
            request_hash=request_hash,
            response={},
            created_at=now,
        )
        .on_conflict_do_nothing()
        .returning(StockDocumentRow.kind)
    )
    if claimed is not None:
        return None
    stored = (
        await session.execute(
            select(StockDocumentRow.request_hash, StockDocumentRow.response).where(
                StockDocumentRow.kind == kind, StockDocumentRow.document_id == document_id
            )
        )
    ).one()
    if stored.request_hash != request_hash:
        raise DocumentConflict(kind, document_id)
    response: dict[str, Any] = stored.response
    return response


async def store_answer(
    session: AsyncSession, kind: str, document_id: str, response: dict[str, Any]
) -> None:
    await session.execute(
        update(StockDocumentRow)
        .where(StockDocumentRow.kind == kind, StockDocumentRow.document_id == document_id)
        .values(response=response)
        .execution_options(synchronize_session=False)
    )
