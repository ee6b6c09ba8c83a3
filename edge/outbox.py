"""The edge's local journal: reports waiting for the central API, and small durable values.

A report is written here, in a committed transaction, before any device command that
follows from the same decision is published; a sender drains it to the central API at
least once (the API deduplicates by event id). SQLite in WAL mode, one writer: this process.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (sent, id);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class PendingEvent:
    row_id: int
    body: dict[str, Any]


class Outbox:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        # One connection, so one lock for every statement on it: writers must not interleave
        # inside each other's transaction, and a read between another coroutine's BEGIN and
        # COMMIT would see (and send on) rows that may yet be rolled back. FIFO lock order
        # keeps reports in the order the controller decided them.
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Outbox:
        db = await aiosqlite.connect(path, isolation_level=None)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.executescript(SCHEMA)
        return cls(db)

    async def close(self) -> None:
        await self._db.close()

    async def add(self, events: Iterable[dict[str, Any]], values: Mapping[str, str]) -> None:
        """Queue events and store values in one transaction."""
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                await self._db.executemany(
                    "INSERT INTO outbox (event_id, body) VALUES (?, ?)",
                    [(e["event_id"], json.dumps(e)) for e in events],
                )
                await self._db.executemany(
                    "INSERT INTO kv (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    list(values.items()),
                )
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def pending(self, limit: int) -> list[PendingEvent]:
        async with (
            self._lock,
            self._db.execute(
                "SELECT id, body FROM outbox WHERE sent = 0 ORDER BY id LIMIT ?", (limit,)
            ) as cursor,
        ):
            return [PendingEvent(row[0], json.loads(row[1])) async for row in cursor]

    async def mark_sent(self, row_ids: Iterable[int]) -> None:
        async with self._lock:
            await self._db.executemany(
                "UPDATE outbox SET sent = 1 WHERE id = ?", [(i,) for i in row_ids]
            )

    async def get(self, key: str) -> str | None:
        async with (
            self._lock,
            self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)) as cursor,
        ):
            row = await cursor.fetchone()
        return str(row[0]) if row else None
