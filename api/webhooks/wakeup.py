"""Waking this process's delivery worker as soon as a transaction that enqueued commits.

The worker puts its `poke` into the `info` of every session its database's writer makes;
`enqueue_webhook_event` marks the session, and an `after_commit` hook pokes the worker once
the transaction is durable (poking before the commit could let the worker look too early).
Sessions without a poke, or other processes' workers, find the event at their next poll.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

_POKE = "wh_webhooks_poke"
_HOOKED = "wh_webhooks_hooked"
_PENDING = "wh_webhooks_pending"


def attach(writer: async_sessionmaker[AsyncSession], poke: Callable[[], None]) -> None:
    """Sessions made by `writer` from now on carry `poke`."""
    info: dict[str, Any] = dict(writer.kw.get("info") or {})
    info[_POKE] = poke
    writer.configure(info=info)


def detach(writer: async_sessionmaker[AsyncSession]) -> None:
    info: dict[str, Any] = dict(writer.kw.get("info") or {})
    info.pop(_POKE, None)
    writer.configure(info=info)


def poke_after_commit(session: AsyncSession) -> None:
    """Poke the worker when the session's current transaction commits (not if it rolls back)."""
    sync = session.sync_session
    if _POKE not in sync.info:
        return
    sync.info[_PENDING] = True
    if not sync.info.get(_HOOKED):
        sync.info[_HOOKED] = True
        event.listen(sync, "after_commit", _committed)
        event.listen(sync, "after_rollback", _rolled_back)


def _committed(session: Session) -> None:
    if session.info.pop(_PENDING, False):
        session.info[_POKE]()


def _rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
