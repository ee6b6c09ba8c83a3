"""Ingest and request validation at the edges: events that must be refused, and requests
that must be 4xx problems rather than 500s, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from api.main import create_app
from api.models import OrderLineRow, OrderRow, ReservationRow
from api.sites import ingest as ingest_module
from api.sites.schemas import EventType, NoData
from tests.api.conftest import (
    EDGE,
    ERP,
    OPS,
    SITE,
    assert_problem,
    order_body,
    running,
    settings_for,
)
from tests.api.test_edge import OTHER_SSCC, SSCC, event, ledger, push, send, stock


async def open_reserved(app: FastAPI, order_id: str) -> int:
    """What the order's reservations still hold (qty - picked - released), summed."""
    async with app.state.context.database().reader() as session:
        held = await session.scalar(
            select(
                func.coalesce(
                    func.sum(
                        ReservationRow.qty - ReservationRow.picked_qty - ReservationRow.released_qty
                    ),
                    0,
                )
            )
            .join(OrderLineRow, OrderLineRow.id == ReservationRow.line_pk)
            .join(OrderRow, OrderRow.id == OrderLineRow.order_pk)
            .where(OrderRow.order_id == order_id)
        )
        return int(held or 0)


def pick(order_id: str, line_id: str, sku: str, bin: str, qty: int) -> dict[str, Any]:
    return event("line.picked", order_id, {"line_id": line_id, "sku": sku, "bin": bin, "qty": qty})


# --- 1: order.picked needs everything reserved to be picked -----------------------------


async def test_order_picked_is_rejected_until_every_reservation_is_picked(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    order = await push(client, "SO-R1", ("10", "SKU-0007", 3), ("20", "SKU-0003", 2))
    bins = {line["line_id"]: line["allocations"][0]["bin"] for line in order["lines"]}
    assert all(len(line["allocations"]) == 1 for line in order["lines"])

    nothing = await send(client, event("order.picking", "SO-R1"), event("order.picked", "SO-R1"))
    some = await send(
        client, pick("SO-R1", "10", "SKU-0007", bins["10"], 2), event("order.picked", "SO-R1")
    )
    one_line = await send(
        client, pick("SO-R1", "10", "SKU-0007", bins["10"], 1), event("order.picked", "SO-R1")
    )
    rest = await send(
        client, pick("SO-R1", "20", "SKU-0003", bins["20"], 2), event("order.picked", "SO-R1")
    )
    shipping = await send(
        client,
        event("order.packed", "SO-R1", {"sscc": SSCC, "carrier": "DHL"}),
        event("parcel.sorted", "SO-R1", {"sscc": SSCC, "chute": "C01"}),
        event("parcel.loaded", "SO-R1", {"sscc": SSCC, "door": "D1"}),
        event("parcel.shipped", "SO-R1", {"sscc": SSCC, "door": "D1"}),
    )

    assert [r["status"] for r in nothing] == ["accepted", "rejected"]
    assert "line '10'" in nothing[1]["detail"]
    assert "line '20'" in nothing[1]["detail"]
    assert "still reserved" in nothing[1]["detail"]
    assert [r["status"] for r in some] == ["accepted", "rejected"]
    assert "line '10': 1" in some[1]["detail"]
    assert [r["status"] for r in one_line] == ["accepted", "rejected"]
    assert "line '10'" not in one_line[1]["detail"]
    assert "line '20': 2" in one_line[1]["detail"]
    assert [r["status"] for r in rest] == ["accepted", "accepted"]
    assert [r["status"] for r in shipping] == ["accepted"] * 4
    shipped = (await client.get("/api/v1/orders/SO-R1", headers=ERP)).json()
    assert shipped["status"] == "shipped"
    assert [
        (x["qty"], x["reserved_qty"], x["picked_qty"], x["shipped_qty"]) for x in shipped["lines"]
    ] == [(3, 3, 3, 3), (2, 2, 2, 2)]
    assert await open_reserved(app, "SO-R1") == 0  # a shipped order holds no stock
    assert (await stock(client, "SKU-0007"))["reserved"] == 0
    assert (await stock(client, "SKU-0003"))["reserved"] == 0


async def test_an_order_in_exception_keeps_its_reservation(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await push(client, "SO-R2", ("10", "SKU-0008", 5))

    results = await send(
        client,
        event("order.picking", "SO-R2"),
        event("order.exception", "SO-R2", {"reason": "damaged"}),
        event("order.picked", "SO-R2"),
    )

    assert [r["status"] for r in results] == ["accepted", "accepted", "rejected"]
    assert await open_reserved(app, "SO-R2") == 5
    assert (await stock(client, "SKU-0008"))["reserved"] == 5


# --- 5: a pick reported after the order went into exception still counts -----------------


async def test_line_picked_is_accepted_while_the_order_is_in_exception(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    order = await push(client, "SO-R3", ("10", "SKU-0009", 2))
    bin_ = order["lines"][0]["allocations"][0]["bin"]
    on_hand = (await stock(client, "SKU-0009"))["on_hand"]

    results = await send(
        client,
        event("order.picking", "SO-R3"),
        event("order.exception", "SO-R3", {"reason": "rfid_mismatch"}),
        pick("SO-R3", "10", "SKU-0009", bin_, 2),
        pick("SO-R3", "10", "SKU-0009", bin_, 1),  # nothing left reserved
    )

    assert [r["status"] for r in results] == ["accepted", "accepted", "accepted", "rejected"]
    after = (await client.get("/api/v1/orders/SO-R3", headers=ERP)).json()
    assert (after["status"], after["status_reason"]) == ("exception", "rfid_mismatch")
    assert after["lines"][0]["picked_qty"] == 2
    assert await ledger(app) == [("pick", -2, "SO-R3", "bin"), ("pick", 2, "SO-R3", "staging")]
    sku = await stock(client, "SKU-0009")
    assert (sku["on_hand"], sku["reserved"]) == (on_hand - 2, 0)
    # Still not before picking: a reserved order takes no pick.
    await push(client, "SO-R4", ("10", "SKU-0009", 1))
    early = await send(client, pick("SO-R4", "10", "SKU-0009", bin_, 1))
    assert early[0]["status"] == "rejected"
    assert "reserved" in early[0]["detail"]


# --- 2: strings with NUL, non-finite numbers, database errors -----------------------------


async def test_a_nul_in_the_envelope_is_a_422_for_the_batch(client: httpx.AsyncClient) -> None:
    await push(client, "SO-R5", ("10", "SKU-0003", 1))
    for field, value in (("event_id", "e\u0000"), ("order_id", "SO-\u0000"), ("type", "a\u0000")):
        bad = {**event("order.picking", "SO-R5"), field: value}
        problem = assert_problem(
            await client.post(f"/api/v1/sites/{SITE}/events", json={"events": [bad]}, headers=EDGE),
            422,
        )
        assert [e["field"] for e in problem["errors"]] == [f"events[0].{field}"]
    order = (await client.get("/api/v1/orders/SO-R5", headers=ERP)).json()
    assert order["status"] == "reserved"


async def test_bad_data_rejects_that_event_alone(app: FastAPI, client: httpx.AsyncClient) -> None:
    order = await push(client, "SO-R6", ("10", "SKU-0003", 2))
    bin_ = order["lines"][0]["allocations"][0]["bin"]
    events = [
        event("order.picking", "SO-R6"),
        event(
            "line.picked", "SO-R6", {"line_id": "10", "sku": "SKU-0003", "bin": "A\u0000", "qty": 1}
        ),
        event("order.exception", "SO-R6", {"reason": "r\u0000"}),
        event("order.exception", "SO-R6", {"reason": "r", "detail": {"k\u0000": 1}}),
        event("order.exception", "SO-R6", {"reason": "r", "detail": [1.5, float("nan")]}),
        event("order.exception", "SO-R6", {"reason": "r", "detail": {"x": float("inf")}}),
        event("order.exception", "SO-R6", {"reason": "r", "detail": "\ud800"}),
        pick("SO-R6", "10", "SKU-0003", bin_, 2),
    ]
    content = json.dumps({"events": events})  # NaN and Infinity as Python's json writes them

    response = await client.post(
        f"/api/v1/sites/{SITE}/events",
        content=content,
        headers={**EDGE, "content-type": "application/json"},
    )

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted"] + ["rejected"] * 6 + ["accepted"]
    details = [r["detail"] for r in results[1:7]]
    assert details[0] == "invalid line.picked: data.bin: NUL character in a string"
    assert details[1] == "invalid order.exception: data.reason: NUL character in a string"
    assert "data.detail" in details[2]
    assert "NUL" in details[2]
    assert details[3] == "invalid order.exception: data.detail[1]: not a finite number"
    assert details[4] == "invalid order.exception: data.detail.x: not a finite number"
    assert "data.detail" in details[5]
    assert "Unicode" in details[5]
    after = (await client.get("/api/v1/orders/SO-R6", headers=ERP)).json()
    assert after["status"] == "picking"
    assert after["lines"][0]["picked_qty"] == 2


async def test_a_database_error_rejects_the_event_not_the_batch(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(session: AsyncSession, event: Any, applied: Any) -> None:
        await session.execute(text("SELECT * FROM no_such_table"))

    monkeypatch.setitem(ingest_module.HANDLERS, EventType.ORDER_EXCEPTION, (NoData, broken))
    await push(client, "SO-R7", ("10", "SKU-0003", 1))

    results = await send(
        client,
        event("order.picking", "SO-R7"),
        event("order.exception", "SO-R7", {"reason": "x"}),
        event("order.picked", "SO-R7"),  # nothing picked yet: rejected, and on we go
    )

    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected"]
    assert "could not be stored" in results[1]["detail"]
    after = (await client.get("/api/v1/orders/SO-R7", headers=ERP)).json()
    assert after["status"] == "picking"
    assert [e["type"] for e in after["events"]][-1] == "order.picking"


# --- 3: the same SSCC packed twice at the same moment ---------------------------------


async def picked_orders(client: httpx.AsyncClient, *order_ids: str) -> None:
    """Orders of one unit each, picked and ready to be packed."""
    for oid in order_ids:
        order = await push(client, oid, ("10", "SKU-0010", 1))
        bin_ = order["lines"][0]["allocations"][0]["bin"]
        await send(
            client,
            event("order.picking", oid),
            pick(oid, "10", "SKU-0010", bin_, 1),
            event("order.picked", oid),
        )


async def test_an_sscc_already_used_is_rejected(client: httpx.AsyncClient) -> None:
    await picked_orders(client, "SO-S1", "SO-S2")

    first = await send(client, event("order.packed", "SO-S1", {"sscc": SSCC, "carrier": "DHL"}))
    second = await send(client, event("order.packed", "SO-S2", {"sscc": SSCC, "carrier": "DHL"}))

    assert first[0]["status"] == "accepted"
    assert second[0]["status"] == "rejected"
    assert SSCC in second[0]["detail"]
    assert (await client.get("/api/v1/orders/SO-S2", headers=ERP)).json()["status"] == "picked"


@pytest.mark.postgres
async def test_an_sscc_taken_by_a_concurrent_batch_is_rejected_on_postgres(
    postgres_url: str,
) -> None:
    app = create_app(settings_for(postgres_url))
    async with running(app) as client:
        await picked_orders(client, "SO-C1", "SO-C2")
        # Another transaction has claimed the SSCC and not committed yet: the ingest's
        # check for the SSCC cannot see it, and its insert waits on the unique index.
        other = create_async_engine(postgres_url)
        try:
            async with other.connect() as blocker, other.connect() as watcher:
                pk = await blocker.scalar(text("SELECT id FROM orders WHERE order_id = 'SO-C1'"))
                await blocker.execute(
                    text(
                        "INSERT INTO parcels (order_pk, sscc, carrier, status, epcs, created_at,"
                        " updated_at) VALUES (:pk, :sscc, 'DHL', 'packed', '[]', now(), now())"
                    ),
                    {"pk": pk, "sscc": OTHER_SSCC},
                )
                packed = event("order.packed", "SO-C2", {"sscc": OTHER_SSCC, "carrier": "DHL"})
                loser = asyncio.create_task(send(client, packed))
                waiting = 0
                while not waiting and not loser.done():  # until the insert waits on the lock
                    # The ingest's own parcel insert, not any other wait (a webhook worker's,
                    # say): only then has its SSCC check run before the claim was visible.
                    waiting = await watcher.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                            " AND query LIKE 'INSERT INTO parcels%'"
                        )
                    )
                    await watcher.commit()
                assert waiting, "the ingest did not wait on the other transaction"
                await blocker.commit()
                results = await loser
        finally:
            await other.dispose()

        assert results[0]["status"] == "rejected"
        assert results[0]["detail"] == f"SSCC {OTHER_SSCC} already belongs to a parcel"
        after = (await client.get("/api/v1/orders/SO-C2", headers=ERP)).json()
        assert (after["status"], after["parcels"]) == ("picked", [])


# --- 4: 4xx problems rather than 500s --------------------------------------------------


async def test_out_of_range_cursors_and_feed_positions_are_422(client: httpx.AsyncClient) -> None:
    for after in (2**31, 2**63, 10**20):
        problem = assert_problem(
            await client.get(f"/api/v1/sites/{SITE}/work", params={"after": after}, headers=EDGE),
            422,
        )
        assert [e["field"] for e in problem["errors"]] == ["after"]
    last = await client.get(f"/api/v1/sites/{SITE}/work", params={"after": 2**31 - 1}, headers=EDGE)
    assert (last.status_code, last.json()["items"]) == (200, [])
    for pk in (2**31, 10**20, -1):
        cursor = base64.urlsafe_b64encode(f"o:{pk}".encode()).decode().rstrip("=")
        problem = assert_problem(
            await client.get("/api/v1/orders", params={"cursor": cursor}, headers=ERP), 422
        )
        assert [e["field"] for e in problem["errors"]] == ["cursor"]


async def test_instants_that_overflow_in_utc_are_422_naming_the_field(
    client: httpx.AsyncClient,
) -> None:
    await push(client, "SO-T1", ("10", "SKU-0003", 1))
    late = event("order.picking", "SO-T1", occurred_at="9999-12-31T23:59:59-05:00")
    events = assert_problem(
        await client.post(f"/api/v1/sites/{SITE}/events", json={"events": [late]}, headers=EDGE),
        422,
    )
    early = order_body("SO-T2", ("10", "SKU-0003", 1), ship_by="0001-01-01T00:00:00+01:00")
    orders = assert_problem(await client.post("/api/v1/orders", json=early, headers=ERP), 422)

    assert [e["field"] for e in events["errors"]] == ["events[0].occurred_at"]
    assert [e["field"] for e in orders["errors"]] == ["ship_by"]
    assert "ship_by" in orders["detail"]


async def test_a_nul_in_a_path_is_a_404_and_in_an_order_text_a_422(
    client: httpx.AsyncClient,
) -> None:
    order = assert_problem(await client.get("/api/v1/orders/a%00b", headers=ERP), 404)
    sku = assert_problem(await client.get("/api/v1/stock/a%00b", headers=OPS), 404)
    assert "no order" in order["detail"]
    assert "no sku" in sku["detail"]

    ship_to = {
        "name": "a\u0000",
        "line1": "x",
        "city": "y",
        "postal_code": "1\u0000",
        "country": "GB",
    }
    body = order_body(
        "SO-T3", ("10", "SKU-0003", 1), ship_to=ship_to, customer={"id": "c", "name": "\u0000"}
    )
    problem = assert_problem(await client.post("/api/v1/orders", json=body, headers=ERP), 422)

    assert {e["field"] for e in problem["errors"]} == {
        "ship_to.name",
        "ship_to.postal_code",
        "customer.name",
    }
    assert (await client.get("/api/v1/orders/SO-T3", headers=ERP)).status_code == 404
