"""The edge ↔ central API contract (docs/protocols.md): work feed and event ingest."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from api.models import LedgerRow
from controller.domain.gs1 import make_sscc
from tests.api.conftest import EDGE, ERP, SITE, assert_problem, order_body

SSCC = make_sscc(0, "0614141", 1)
OTHER_SSCC = make_sscc(0, "0614141", 2)


def event(
    type: str, order_id: str, data: dict[str, Any] | None = None, **kw: Any
) -> dict[str, Any]:
    return {
        "event_id": kw.get("event_id", str(uuid.uuid4())),
        "type": type,
        "order_id": order_id,
        "occurred_at": kw.get("occurred_at", "2026-11-22T10:00:00Z"),
        "data": data or {},
    }


async def send(client: httpx.AsyncClient, *events: dict[str, Any]) -> list[dict[str, Any]]:
    response = await client.post(
        f"/api/v1/sites/{SITE}/events", json={"events": list(events)}, headers=EDGE
    )
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    assert [r["event_id"] for r in results] == [e["event_id"] for e in events]
    return results


async def push(
    client: httpx.AsyncClient, order_id: str, *lines: tuple[str, str, int]
) -> dict[str, Any]:
    response = await client.post("/api/v1/orders", json=order_body(order_id, *lines), headers=ERP)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


async def stock(client: httpx.AsyncClient, sku: str) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get(f"/api/v1/stock/{sku}", headers=EDGE)).json()
    return body


async def test_work_feed_holds_released_orders_after_the_cursor(client: httpx.AsyncClient) -> None:
    await push(client, "SO-W1", ("10", "SKU-0003", 2))
    await push(client, "SO-W2", ("10", "SKU-0011", 41))  # 40 in stock: backordered, not released
    await push(client, "SO-W3", ("10", "SKU-0001", 42), ("20", "SKU-0012", 1))

    everything = (await client.get(f"/api/v1/sites/{SITE}/work", headers=EDGE)).json()
    after_first = (await client.get(f"/api/v1/sites/{SITE}/work?after=1", headers=EDGE)).json()
    one = (await client.get(f"/api/v1/sites/{SITE}/work?limit=1", headers=EDGE)).json()
    caught_up = (await client.get(f"/api/v1/sites/{SITE}/work?after=2", headers=EDGE)).json()

    assert [(i["seq"], i["type"], i["order"]["order_id"]) for i in everything["items"]] == [
        (1, "order.released", "SO-W1"),
        (2, "order.released", "SO-W3"),
    ]
    assert everything["next_after"] == 2
    assert everything["items"][0]["order"] == {
        "order_id": "SO-W1",
        "version": 1,
        "priority": 5,
        "carrier": "DHL",
        "service": None,
        "ship_by": None,
        "lines": [
            {
                "line_id": "10",
                "sku": "SKU-0003",
                "gtin": "00614141001026",
                "qty": 2,
                "allocations": [{"bin": "A1-03", "tote_id": "TOTE-0005", "qty": 2}],
            }
        ],
    }
    assert everything["items"][1]["order"]["lines"][0]["allocations"] == [
        {"bin": "A1-01", "tote_id": "TOTE-0001", "qty": 40},
        {"bin": "A5-05", "tote_id": "TOTE-0002", "qty": 2},
    ]
    assert [i["seq"] for i in after_first["items"]] == [2]
    assert [i["seq"] for i in one["items"]] == [1]
    assert one["next_after"] == 1
    assert caught_up == {"items": [], "next_after": 2}


async def ledger(app: FastAPI) -> list[tuple[str, int, str | None, str]]:
    """Ledger rows after seeding: (reason, delta, order, "bin" or "staging")."""
    async with app.state.context.database().reader() as session:
        rows = (await session.scalars(select(LedgerRow).order_by(LedgerRow.id))).all()
        return [
            (r.reason, r.qty_delta, r.order_id, "staging" if r.bin_id is None else "bin")
            for r in rows
            if r.reason != "seed"
        ]


async def test_event_chain_ships_the_order_and_moves_stock_through_the_ledger(
    app: FastAPI, client: httpx.AsyncClient, read_metric: Any
) -> None:
    shipped_before = await read_metric("warehouse_api_orders_total", status="shipped")
    picks_before = await read_metric(
        "warehouse_api_events_total", type="line.picked", result="accepted"
    )
    await push(client, "SO-E1", ("10", "SKU-0001", 45), ("20", "SKU-0003", 2))
    picked = [
        ("10", "SKU-0001", "A1-01", "TOTE-0001", 40),
        ("10", "SKU-0001", "A5-05", "TOTE-0002", 5),
        ("20", "SKU-0003", "A1-03", "TOTE-0005", 2),
    ]
    chain = [
        event("order.picking", "SO-E1"),
        *(
            event(
                "line.picked",
                "SO-E1",
                {"line_id": lid, "sku": sku, "bin": b, "tote_id": tote, "qty": qty},
            )
            for lid, sku, b, tote, qty in picked
        ),
        event("order.picked", "SO-E1"),
        event("order.packed", "SO-E1", {"sscc": SSCC, "carrier": "DHL", "epcs": ["3034"]}),
        event("parcel.sorted", "SO-E1", {"sscc": SSCC, "chute": "C01"}),
        event("parcel.loaded", "SO-E1", {"sscc": SSCC, "door": "D1"}),
        event("parcel.shipped", "SO-E1", {"sscc": SSCC, "door": "D1"}),
    ]

    results = await send(client, *chain[:4])  # one batch, then one event per request
    for e in chain[4:]:
        results += await send(client, e)

    assert [r["status"] for r in results] == ["accepted"] * len(chain), results
    order = (await client.get("/api/v1/orders/SO-E1", headers=ERP)).json()
    assert order["status"] == "shipped"
    assert [
        (x["qty"], x["reserved_qty"], x["picked_qty"], x["shipped_qty"]) for x in order["lines"]
    ] == [
        (45, 45, 45, 45),
        (2, 2, 2, 2),
    ]
    assert order["parcels"] == [
        {
            "sscc": SSCC,
            "carrier": "DHL",
            "tracking": None,
            "status": "shipped",
            "chute": "C01",
            "door": "D1",
        }
    ]
    timeline = [(e["type"], e["data"]) for e in order["events"]]
    assert [t for t, _ in timeline] == [
        "order.received",
        "order.reserved",
        "order.released",
        *(e["type"] for e in chain),
    ]
    assert timeline[4] == ("line.picked", chain[1]["data"])
    assert order["events"][3]["occurred_at"] == "2026-11-22T10:00:00Z"

    sku1 = await stock(client, "SKU-0001")
    assert (sku1["on_hand"], sku1["reserved"], sku1["available"]) == (35, 0, 35)
    assert [(x["bin"], x["on_hand"], x["reserved"]) for x in sku1["locations"]] == [
        ("A1-01", 0, 0),
        ("A5-05", 35, 0),
    ]
    assert await ledger(app) == [
        ("pick", -40, "SO-E1", "bin"),
        ("pick", 40, "SO-E1", "staging"),
        ("pick", -5, "SO-E1", "bin"),
        ("pick", 5, "SO-E1", "staging"),
        ("pick", -2, "SO-E1", "bin"),
        ("pick", 2, "SO-E1", "staging"),
        ("ship", -45, "SO-E1", "staging"),
        ("ship", -2, "SO-E1", "staging"),
    ]
    assert await read_metric("warehouse_api_orders_total", status="shipped") == shipped_before + 1
    assert (
        await read_metric("warehouse_api_events_total", type="line.picked", result="accepted")
        == picks_before + 3
    )


async def test_a_duplicate_event_id_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await push(client, "SO-D1", ("10", "SKU-0003", 4))
    pick = event(
        "line.picked", "SO-D1", {"line_id": "10", "sku": "SKU-0003", "bin": "A1-03", "qty": 1}
    )
    await send(client, event("order.picking", "SO-D1"))

    first = await send(client, pick)
    again = await send(client, pick, pick)

    assert [r["status"] for r in first] == ["accepted"]
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    assert "detail" not in again[0]
    order = (await client.get("/api/v1/orders/SO-D1", headers=ERP)).json()
    assert order["lines"][0]["picked_qty"] == 1
    assert [e["type"] for e in order["events"]].count("line.picked") == 1
    assert (await stock(client, "SKU-0003"))["locations"][0]["on_hand"] == 39
    assert await ledger(app) == [("pick", -1, "SO-D1", "bin"), ("pick", 1, "SO-D1", "staging")]


async def test_the_same_event_sent_concurrently_is_accepted_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await push(client, "SO-D2", ("10", "SKU-0003", 4))
    await send(client, event("order.picking", "SO-D2"))
    pick = event(
        "line.picked", "SO-D2", {"line_id": "10", "sku": "SKU-0003", "bin": "A1-03", "qty": 2}
    )

    batches = await asyncio.gather(*(send(client, pick) for _ in range(8)))

    statuses = sorted(b[0]["status"] for b in batches)
    assert statuses == ["accepted"] + ["duplicate"] * 7
    assert (await stock(client, "SKU-0003"))["locations"][0]["on_hand"] == 38
    assert await ledger(app) == [("pick", -2, "SO-D2", "bin"), ("pick", 2, "SO-D2", "staging")]


async def test_an_impossible_transition_is_rejected_and_does_not_block_the_next_event(
    client: httpx.AsyncClient, read_metric: Any
) -> None:
    before = await read_metric("warehouse_api_events_total", type="order.picked", result="rejected")
    await push(client, "SO-X1", ("10", "SKU-0005", 1))

    results = await send(
        client,
        event("order.picked", "SO-X1"),  # reserved → picked skips picking
        event("order.picking", "SO-X1"),
        event("order.packed", "SO-X1", {"sscc": SSCC, "carrier": "DHL"}),  # picking → packed
    )

    assert [r["status"] for r in results] == ["rejected", "accepted", "rejected"]
    assert "reserved" in results[0]["detail"]
    assert "picked" in results[0]["detail"]
    assert "packed" in results[2]["detail"]
    order = (await client.get("/api/v1/orders/SO-X1", headers=ERP)).json()
    assert order["status"] == "picking"
    assert order["parcels"] == []
    assert [e["type"] for e in order["events"]][-1] == "order.picking"
    after = await read_metric("warehouse_api_events_total", type="order.picked", result="rejected")
    assert after == before + 1


async def test_events_that_cannot_apply_are_rejected_with_a_reason(
    sqlite_client: httpx.AsyncClient,
) -> None:
    client = sqlite_client
    await push(client, "SO-X2", ("10", "SKU-0005", 1))
    await send(client, event("order.picking", "SO-X2"))

    results = await send(
        client,
        event("order.teleported", "SO-X2"),
        event("order.picking", "SO-NOPE"),
        event("line.picked", "SO-X2", {"line_id": "10", "sku": "SKU-0005", "bin": "A1-05"}),
        event(
            "line.picked", "SO-X2", {"line_id": "10", "sku": "SKU-0005", "bin": "A1-05", "qty": 2}
        ),
        event(
            "line.picked", "SO-X2", {"line_id": "10", "sku": "SKU-0005", "bin": "A6-04", "qty": 1}
        ),
        event(
            "line.picked", "SO-X2", {"line_id": "99", "sku": "SKU-0005", "bin": "A1-05", "qty": 1}
        ),
        event("order.packed", "SO-X2", {"sscc": "123", "carrier": "DHL"}),
        event(
            "line.picked", "SO-X2", {"line_id": "10", "sku": "SKU-0005", "bin": "A1-05", "qty": 1}
        ),
    )

    assert [r["status"] for r in results] == ["rejected"] * 7 + ["accepted"]
    details = [r["detail"] for r in results[:7]]
    assert "unknown event type" in details[0]
    assert "unknown order" in details[1]
    assert "data.qty" in details[2]
    assert "1 reserved" in details[3]
    assert "0 reserved at bin 'A6-04'" in details[4]
    assert "no line '99'" in details[5]
    assert "data.sscc" in details[6]


async def test_event_batches_with_a_broken_envelope_or_site_are_problems(
    sqlite_client: httpx.AsyncClient,
) -> None:
    client = sqlite_client
    broken = {"events": [{"type": "order.picking", "order_id": "SO-1", "occurred_at": "soon"}]}

    invalid = assert_problem(
        await client.post(f"/api/v1/sites/{SITE}/events", json=broken, headers=EDGE), 422
    )
    unknown = assert_problem(
        await client.post("/api/v1/sites/mars/events", json={"events": []}, headers=EDGE), 404
    )
    no_feed = assert_problem(await client.get("/api/v1/sites/mars/work", headers=EDGE), 404)

    assert {e["field"] for e in invalid["errors"]} == {
        "events[0].event_id",
        "events[0].occurred_at",
    }
    assert "mars" in unknown["detail"]
    assert no_feed["instance"] == "/api/v1/sites/mars/work"


async def test_a_second_carton_and_an_early_shipment_are_rejected_and_exception_has_a_reason(
    sqlite_client: httpx.AsyncClient,
) -> None:
    # One carton per order today: a second order.packed is an impossible transition.
    client = sqlite_client
    await push(client, "SO-P1", ("10", "SKU-0006", 1))
    results = await send(
        client,
        event("order.picking", "SO-P1"),
        event(
            "line.picked", "SO-P1", {"line_id": "10", "sku": "SKU-0006", "bin": "A2-01", "qty": 1}
        ),
        event("order.picked", "SO-P1"),
        event("order.packed", "SO-P1", {"sscc": SSCC, "carrier": "DHL"}),
        event("order.packed", "SO-P1", {"sscc": OTHER_SSCC, "carrier": "DHL"}),
        event("parcel.shipped", "SO-P1", {"sscc": SSCC, "door": "D1"}),  # not loaded yet
        event("order.exception", "SO-P1", {"reason": "rfid_mismatch", "detail": {"missing": []}}),
    )

    assert [r["status"] for r in results] == ["accepted"] * 4 + ["rejected"] * 2 + ["accepted"]
    order = (await client.get("/api/v1/orders/SO-P1", headers=ERP)).json()
    assert (order["status"], order["status_reason"]) == ("exception", "rfid_mismatch")
    assert [p["sscc"] for p in order["parcels"]] == [SSCC]
