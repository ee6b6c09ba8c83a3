"""The outbox never hands out what another coroutine has not committed, and its sender wakes
for a report committed just after it found the outbox empty."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.domain.messages import Report, ReportType
from edge import runtime as runtime_module
from edge.outbox import Outbox, PendingEvent
from edge.runtime import EdgeRuntime, utcnow
from tests.conftest import Broker
from tests.edge.conftest import edge_settings, fake_central, forget_session, running_edge, until

READ_WINDOW_S = 0.2  # time given to a reader to (wrongly) finish inside an open transaction
WAKE_DEADLINE_S = 0.5  # a woken sender posts within milliseconds; the old idle poll was 1 s


async def test_a_reader_never_sees_rows_of_a_transaction_that_is_still_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox = await Outbox.open(tmp_path / "edge.db")
    inserted, fail_writer = asyncio.Event(), asyncio.Event()
    executemany = outbox._db.executemany

    async def hold_open_then_fail(sql: str, rows: Iterable[Any]) -> Any:
        result = await executemany(sql, rows)
        if sql.startswith("INSERT INTO kv"):  # the last write before COMMIT
            inserted.set()
            await fail_writer.wait()
            raise RuntimeError("the writer fails: its transaction is rolled back")
        return result

    monkeypatch.setattr(outbox._db, "executemany", hold_open_then_fail)
    try:
        event = {"event_id": "e-1", "type": "order.picking", "order_id": "SO-1"}
        writer = asyncio.create_task(outbox.add([event], {"work_after": "7"}))
        await inserted.wait()
        readers = asyncio.gather(outbox.pending(10), outbox.get("work_after"))
        await asyncio.wait([readers], timeout=READ_WINDOW_S)
        fail_writer.set()
        with pytest.raises(RuntimeError):
            await writer
        pending, work_after = await readers
        assert (pending, work_after) == ([], None)
    finally:
        await outbox.close()


@pytest.mark.mqtt
async def test_a_report_committed_just_after_an_empty_read_is_sent_at_once(
    mqtt_broker: Broker, site_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime_module, "OUTBOX_IDLE_POLL_S", 60.0)
    posted: list[dict[str, Any]] = []

    def central(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            events = json.loads(request.content)["events"]
            posted.extend(events)
            results = [{"event_id": e["event_id"], "status": "accepted"} for e in events]
            return httpx.Response(200, json={"results": results})
        return httpx.Response(200, json={"items": [], "next_after": 0})

    def report_after_first_read(runtime: EdgeRuntime) -> None:
        pending = runtime.outbox.pending
        reads = 0

        async def read_then_report(limit: int) -> list[PendingEvent]:
            nonlocal reads
            batch = await pending(limit)
            reads += 1
            if reads == 1:  # a report committed between the sender's read and its wait
                report = Report(ReportType.ORDER_PICKING, "SO-1")
                await runtime.apply([report], utcnow())
            return batch

        monkeypatch.setattr(runtime.outbox, "pending", read_then_report)

    settings = edge_settings(mqtt_broker, site_config, tmp_path)
    async with running_edge(
        settings, lambda rt: fake_central(rt, central), report_after_first_read
    ) as edge:
        await until(lambda: bool(posted), "the report posted", deadline_s=WAKE_DEADLINE_S)
        assert [e["order_id"] for e in posted] == ["SO-1"]
    await forget_session(mqtt_broker, edge.client_id)
