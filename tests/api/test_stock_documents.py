"""Receipts, counts (adjustments), backorders and available-to-promise, on SQLite and
PostgreSQL (the `client` fixture checks the stock invariants after each test)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from sqlalchemy import select

from api.main import create_app
from api.webhooks.models import WebhookEventRow
from tests.api.conftest import (
    EDGE,
    ERP,
    OPS,
    SITE,
    assert_problem,
    metric,
    order_body,
    running,
    settings_for,
)
from tests.api.invariants import stock_invariant_violations
from tests.conftest import DEMO_SITE

Line = tuple[str, str, int]


async def post_order(
    client: httpx.AsyncClient, order_id: str, *lines: Line, **extra: Any
) -> dict[str, Any]:
    answer = await client.post(
        "/api/v1/orders", json=order_body(order_id, *lines, **extra), headers=ERP
    )
    assert answer.status_code == 201, answer.text
    order: dict[str, Any] = answer.json()
    return order


async def get_order(client: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get(f"/api/v1/orders/{order_id}", headers=ERP)).json()
    return body


async def receive(
    client: httpx.AsyncClient, receipt_id: str, *lines: dict[str, Any], site: str = SITE
) -> httpx.Response:
    body = {"receipt_id": receipt_id, "site": site, "lines": list(lines)}
    return await client.post("/api/v1/stock/receipts", json=body, headers=OPS)


async def count(
    client: httpx.AsyncClient, adjustment_id: str, *lines: tuple[str, int]
) -> httpx.Response:
    body = {
        "adjustment_id": adjustment_id,
        "site": SITE,
        "lines": [{"bin": b, "counted_qty": n, "reason": "cycle count"} for b, n in lines],
    }
    return await client.post("/api/v1/stock/adjustments", json=body, headers=ERP)


async def site_stock(client: httpx.AsyncClient, sku: str) -> dict[str, Any]:
    body = (await client.get(f"/api/v1/stock/{sku}", headers=EDGE)).json()
    (here,) = [s for s in body["sites"] if s["site"] == SITE]
    return dict(here)


async def work(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    page = (await client.get(f"/api/v1/sites/{SITE}/work", headers=EDGE)).json()
    items: list[dict[str, Any]] = page["items"]
    return items


def allocations(order: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(x["line_id"], a["bin"], a["qty"]) for x in order["lines"] for a in x["allocations"]]


async def webhook_events(app: FastAPI, type: str) -> list[dict[str, Any]]:
    async with app.state.context.database().reader() as session:
        bodies = await session.scalars(
            select(WebhookEventRow.body)
            .where(WebhookEventRow.type == type)
            .order_by(WebhookEventRow.id)
        )
        return [json.loads(body)["data"] for body in bodies.all()]


async def metrics_text(client: httpx.AsyncClient) -> str:
    return (await client.get("/metrics")).text


# --- receipts ---------------------------------------------------------------------------


async def test_a_receipt_adds_stock_to_the_bin_with_a_ledger_row(
    client: httpx.AsyncClient,
) -> None:
    answer = await receive(client, "GR-1", {"bin": "A3-01", "sku": "SKU-0011", "qty": 10})

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["lines"] == [
        {
            "bin": "A3-01",
            "tote_id": "TOTE-0017",
            "sku": "SKU-0011",
            "lot": None,
            "expires_on": None,
            "qty": 10,
            "on_hand": 50,
        }
    ]
    assert body["orders"] == []
    assert (await site_stock(client, "SKU-0011"))["on_hand"] == 50
    ledger = (await client.get("/api/v1/stock/SKU-0011/ledger", headers=OPS)).json()
    assert [(e["bin"], e["reason"], e["qty_delta"], e["reference"]) for e in ledger["items"]] == [
        ("A3-01", "seed", 40, None),
        ("A3-01", "receipt", 10, "GR-1"),
    ]


async def test_a_retried_receipt_gets_the_first_answer_and_another_body_is_a_409(
    client: httpx.AsyncClient,
) -> None:
    line = {"bin": "A3-01", "sku": "SKU-0011", "qty": 10}
    first = await receive(client, "GR-2", line)
    again = await receive(client, "GR-2", line)
    other = await receive(client, "GR-2", {**line, "qty": 11})

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert "document-conflict" in assert_problem(other, 409)["type"]
    assert (await site_stock(client, "SKU-0011"))["on_hand"] == 50


async def test_the_same_receipt_posted_at_once_is_applied_once(
    client: httpx.AsyncClient,
) -> None:
    line = {"bin": "A3-01", "sku": "SKU-0011", "qty": 3}

    answers = await asyncio.gather(*(receive(client, "GR-C", line) for _ in range(6)))

    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
    assert (await site_stock(client, "SKU-0011"))["on_hand"] == 43


async def test_receipts_and_counts_need_an_erp_or_ops_key(client: httpx.AsyncClient) -> None:
    body = {
        "receipt_id": "GR-K",
        "site": SITE,
        "lines": [{"bin": "A3-01", "sku": "SKU-0011", "qty": 1}],
    }
    counted = {
        "adjustment_id": "CC-K",
        "site": SITE,
        "lines": [{"bin": "A3-01", "counted_qty": 40}],
    }

    by_edge = await client.post("/api/v1/stock/receipts", json=body, headers=EDGE)
    by_erp = await client.post("/api/v1/stock/receipts", json=body, headers=ERP)
    count_by_edge = await client.post("/api/v1/stock/adjustments", json=counted, headers=EDGE)
    count_by_ops = await client.post("/api/v1/stock/adjustments", json=counted, headers=OPS)

    assert_problem(by_edge, 403)
    assert_problem(count_by_edge, 403)
    assert (by_erp.status_code, count_by_ops.status_code) == (201, 201)


async def test_openapi_documents_every_stock_document_answer(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]

    for path in ("/api/v1/stock/receipts", "/api/v1/stock/adjustments"):
        responses = paths[path]["post"]["responses"]
        assert {"200", "201", "401", "403", "409", "422"} <= responses.keys()
        assert all(r.get("description") for r in responses.values())
    assert "404" in paths["/api/v1/stock/{sku}/ledger"]["get"]["responses"]


async def test_an_emptied_bin_takes_another_sku_as_its_newest_stock(
    client: httpx.AsyncClient,
) -> None:
    await count(client, "CC-E", ("A3-02", 0))  # SKU-0012's only bin, counted empty
    moved = await receive(
        client, "GR-E", {"bin": "A3-02", "sku": "SKU-0011", "qty": 5, "tote_id": "TOTE-9001"}
    )
    assert moved.status_code == 201, moved.text

    order = await post_order(client, "SO-M1", ("10", "SKU-0011", 42))
    gained = (await client.get("/api/v1/stock/SKU-0011", headers=OPS)).json()
    lost = (await client.get("/api/v1/stock/SKU-0012", headers=OPS)).json()

    assert allocations(order) == [("10", "A3-01", 40), ("10", "A3-02", 2)]  # FIFO: seeded first
    assert [(x["bin"], x["tote_id"], x["on_hand"]) for x in gained["locations"]] == [
        ("A3-01", "TOTE-0017", 40),
        ("A3-02", "TOTE-9001", 5),
    ]
    assert lost["locations"] == []
    assert lost["sites"][0]["on_hand"] == 0


async def test_the_ledger_pages_with_a_cursor(client: httpx.AsyncClient) -> None:
    await receive(client, "GR-P1", {"bin": "A3-01", "sku": "SKU-0011", "qty": 1})
    await receive(client, "GR-P2", {"bin": "A3-01", "sku": "SKU-0011", "qty": 2})

    first = (await client.get("/api/v1/stock/SKU-0011/ledger?limit=2", headers=OPS)).json()
    cursor = first["next_cursor"]
    rest = await client.get(f"/api/v1/stock/SKU-0011/ledger?limit=2&cursor={cursor}", headers=OPS)
    elsewhere = await client.get("/api/v1/stock/SKU-0011/ledger?site=north", headers=OPS)
    bad = await client.get("/api/v1/stock/SKU-0011/ledger?cursor=nonsense", headers=OPS)
    unknown = await client.get("/api/v1/stock/SKU-9999/ledger", headers=OPS)

    assert [e["qty_delta"] for e in first["items"]] == [40, 1]
    assert ([e["reference"] for e in rest.json()["items"]], rest.json()["next_cursor"]) == (
        ["GR-P2"],
        None,
    )
    assert elsewhere.json() == {"items": [], "next_cursor": None}
    assert [e["field"] for e in assert_problem(bad, 422)["errors"]] == ["cursor"]
    assert_problem(unknown, 404)


async def test_receipt_problems_name_their_fields(client: httpx.AsyncClient) -> None:
    unknown_site = await receive(
        client, "GR-3", {"bin": "A3-01", "sku": "SKU-0011", "qty": 1}, site="nowhere"
    )
    bad_lines = await receive(
        client,
        "GR-3",
        {"bin": "Z9-99", "sku": "SKU-0011", "qty": 1},
        {"bin": "A3-01", "sku": "SKU-9999", "qty": 1},
        {"bin": "A3-01", "sku": "SKU-0011", "qty": 1, "lot": "L1", "expires_on": "2030-01-01"},
    )
    not_positive = await receive(client, "GR-3", {"bin": "A3-01", "sku": "SKU-0011", "qty": 0})
    occupied = await receive(
        client,
        "GR-3",
        {"bin": "A3-01", "sku": "SKU-0011", "qty": 1},
        {"bin": "A3-02", "sku": "SKU-0011", "qty": 1},
        {"bin": "A3-01", "sku": "SKU-0011", "qty": 1, "tote_id": "TOTE-0018"},
    )

    def fields(answer: httpx.Response, status: int) -> list[str]:
        return [e["field"] for e in assert_problem(answer, status)["errors"]]

    assert fields(unknown_site, 422) == ["site"]
    assert fields(bad_lines, 422) == [
        "lines[0].bin",
        "lines[1].sku",
        "lines[2].lot",
        "lines[2].expires_on",
    ]
    assert fields(not_positive, 422) == ["lines[0].qty"]
    conflict = assert_problem(occupied, 409)
    assert conflict["type"].endswith("bin-conflict")
    assert [e["field"] for e in conflict["errors"]] == ["lines[1].sku", "lines[2].tote_id"]
    assert "holds 40 of 'SKU-0012'" in conflict["detail"]
    assert (await site_stock(client, "SKU-0011"))["on_hand"] == 40  # nothing applied


async def test_a_receipt_fills_backorders_by_priority_then_ship_by_and_releases_the_full_ones(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await post_order(client, "SO-B0", ("10", "SKU-0011", 40))  # all 40 in stock
    late = await post_order(client, "SO-B1", ("10", "SKU-0011", 10), ship_by="2026-12-10T12:00:00Z")
    await post_order(client, "SO-B2", ("10", "SKU-0011", 10), ship_by="2026-12-01T12:00:00Z")
    await post_order(client, "SO-B3", ("10", "SKU-0011", 10), priority=9)
    await post_order(client, "SO-B4", ("10", "SKU-0011", 5), priority=2)
    assert late["status"] == "backordered"

    answer = await receive(client, "GR-4", {"bin": "A3-01", "sku": "SKU-0011", "qty": 25})

    assert answer.status_code == 201, answer.text
    assert [
        (o["order_id"], o["status"], o["reserved_delta"], o["released_to_site"])
        for o in answer.json()["orders"]
    ] == [
        ("SO-B3", "reserved", 10, True),
        ("SO-B2", "reserved", 10, True),
        ("SO-B1", "partially_reserved", 5, False),
    ]
    assert [
        (i["seq"], i["order"]["order_id"], i["order"]["version"]) for i in await work(client)
    ] == [
        (1, "SO-B0", 1),
        (2, "SO-B3", 1),
        (3, "SO-B2", 1),
    ]
    b1, b4 = await get_order(client, "SO-B1"), await get_order(client, "SO-B4")
    assert (b1["lines"][0]["reserved_qty"], b1["lines"][0]["backordered_qty"]) == (5, 5)
    assert "order.reallocated" in [e["type"] for e in b1["events"]]
    assert (b4["status"], b4["lines"][0]["reserved_qty"]) == ("backordered", 0)
    changed = await webhook_events(app, "order.status_changed")
    assert [(e["order_id"], e["status"]) for e in changed] == [
        ("SO-B3", "reserved"),
        ("SO-B2", "reserved"),
        ("SO-B1", "partially_reserved"),
    ]
    assert metric(await metrics_text(client), "warehouse_api_orders_total", status="reserved") == 3


async def test_available_to_promise_counts_what_backorders_want(client: httpx.AsyncClient) -> None:
    await post_order(client, "SO-P1", ("10", "SKU-0011", 45))
    short = await site_stock(client, "SKU-0011")
    await receive(client, "GR-5", {"bin": "A3-01", "sku": "SKU-0011", "qty": 20})
    after = await site_stock(client, "SKU-0011")

    assert short == {
        "site": SITE,
        "on_hand": 40,
        "reserved": 40,
        "expired": 0,
        "available": 0,
        "backordered": 5,
        "available_to_promise": 0,
        "safety_stock": 0,
        "below_safety_stock": False,
    }
    assert (after["reserved"], after["available"], after["backordered"]) == (45, 15, 0)
    assert after["available_to_promise"] == 15


# --- counts -----------------------------------------------------------------------------


async def test_a_count_with_the_same_id_replays_and_problems_name_their_fields(
    client: httpx.AsyncClient,
) -> None:
    first = await count(client, "CC-1", ("A3-01", 38))
    again = await count(client, "CC-1", ("A3-01", 38))
    other = await count(client, "CC-1", ("A3-01", 37))
    invalid = await count(client, "CC-2", ("Z9-99", 1), ("A3-02", 1), ("A3-02", 2))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert first.json()["lines"] == [
        {
            "bin": "A3-01",
            "tote_id": "TOTE-0017",
            "sku": "SKU-0011",
            "lot": None,
            "previous_qty": 40,
            "counted_qty": 38,
            "delta": -2,
            "reason": "cycle count",
        }
    ]
    assert first.json()["shortages"] == []
    assert_problem(other, 409)
    assert [e["field"] for e in assert_problem(invalid, 422)["errors"]] == [
        "lines[0].bin",
        "lines[2].bin",
    ]
    ledger = (await client.get("/api/v1/stock/SKU-0011/ledger?site=demo", headers=OPS)).json()
    assert [(e["reason"], e["qty_delta"], e["reference"]) for e in ledger["items"]] == [
        ("seed", 40, None),
        ("adjustment", -2, "CC-1"),
    ]


async def test_a_short_count_cuts_the_least_urgent_held_order_and_covers_it_from_another_bin(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    urgent = await post_order(client, "SO-S1", ("10", "SKU-0003", 30), priority=9)
    relaxed = await post_order(client, "SO-S2", ("10", "SKU-0003", 10), priority=1)
    assert allocations(urgent) == [("10", "A1-03", 30)]
    assert allocations(relaxed) == [("10", "A1-03", 10)]

    answer = await count(client, "CC-3", ("A1-03", 35))

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["shortages"] == [
        {
            "bin": "A1-03",
            "sku": "SKU-0003",
            "short_qty": 5,
            "reallocated_qty": 5,
            "orders": ["SO-S2"],
        }
    ]
    assert [
        (o["order_id"], o["status"], o["released_to_site"], o["revision"]) for o in body["orders"]
    ] == [("SO-S2", "reserved", True, 2)]
    s1, s2 = await get_order(client, "SO-S1"), await get_order(client, "SO-S2")
    assert allocations(s1) == [("10", "A1-03", 30)]
    assert sorted(allocations(s2)) == [("10", "A1-03", 5), ("10", "A6-02", 5)]
    assert "order.shortage" in [e["type"] for e in s2["events"]]
    resent = [i["order"] for i in await work(client) if i["order"]["order_id"] == "SO-S2"]
    assert [(o["version"], o["lines"][0]["allocations"]) for o in resent][-1] == (
        2,
        [
            {"bin": "A1-03", "tote_id": "TOTE-0005", "qty": 5},
            {"bin": "A6-02", "tote_id": "TOTE-0006", "qty": 5},
        ],
    )
    events = await webhook_events(app, "stock.shortage")
    assert events == [
        {
            "site": SITE,
            "sku": "SKU-0003",
            "bin": "A1-03",
            "short_qty": 5,
            "reallocated_qty": 5,
            "orders": ["SO-S2"],
            "adjustment_id": "CC-3",
        }
    ]
    assert metric(await metrics_text(client), "warehouse_api_stock_shortages_total", site=SITE) == 1


async def test_a_short_count_cuts_unreleased_orders_first_and_backorders_them(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await post_order(client, "SO-U1", ("10", "SKU-0011", 30), priority=1)
    waiting = await post_order(client, "SO-U2", ("10", "SKU-0011", 15), priority=9)
    assert (waiting["status"], waiting["lines"][0]["reserved_qty"]) == ("partially_reserved", 10)

    answer = await count(client, "CC-4", ("A3-01", 30))

    assert answer.json()["shortages"] == [
        {
            "bin": "A3-01",
            "sku": "SKU-0011",
            "short_qty": 10,
            "reallocated_qty": 0,
            "orders": ["SO-U2"],
        }
    ]
    u1, u2 = await get_order(client, "SO-U1"), await get_order(client, "SO-U2")
    assert (u1["status"], u1["lines"][0]["reserved_qty"]) == ("reserved", 30)
    assert (u2["status"], u2["lines"][0]["reserved_qty"]) == ("backordered", 0)
    assert "order.shortage" in [e["type"] for e in u2["events"]]
    assert [e["order_id"] for e in await webhook_events(app, "order.backordered")] == ["SO-U2"]

    found = await count(client, "CC-5", ("A3-01", 45))  # more than was thought: U2 is served

    assert [
        (o["order_id"], o["status"], o["released_to_site"]) for o in found.json()["orders"]
    ] == [("SO-U2", "reserved", True)]
    assert [i["order"]["order_id"] for i in await work(client)] == ["SO-U1", "SO-U2"]
    assert metric(await metrics_text(client), "warehouse_api_stock_shortages_total", site=SITE) == 1


async def test_a_held_order_a_count_leaves_uncovered_goes_to_exception(
    client: httpx.AsyncClient,
) -> None:
    await post_order(client, "SO-E1", ("10", "SKU-0011", 30))
    await post_order(client, "SO-E2", ("10", "SKU-0011", 10), priority=9)

    answer = await count(client, "CC-6", ("A3-01", 20))

    assert answer.json()["shortages"][0]["orders"] == ["SO-E1"]
    e1, e2 = await get_order(client, "SO-E1"), await get_order(client, "SO-E2")
    assert (e1["status"], e1["status_reason"]) == ("exception", "stock_shortage")
    assert e1["lines"][0]["reserved_qty"] == 10
    assert {"order.shortage", "order.exception"} <= {e["type"] for e in e1["events"]}
    assert (e2["status"], e2["lines"][0]["reserved_qty"]) == ("reserved", 10)
    assert len(await work(client)) == 2  # the site is not sent a new revision of either

    later = await receive(client, "GR-6", {"bin": "A3-01", "sku": "SKU-0011", "qty": 20})
    assert later.json()["orders"] == []  # an order in exception waits for a person, not stock


# --- lots, FEFO and safety stock ----------------------------------------------------------


@pytest.fixture
def lot_site(tmp_path: Path) -> Path:
    """The demo site with SKU-0021 lot-tracked, FEFO, safety stock 10, in three bins: one
    lot expired, one expiring in 30 days, one in 10 (the bins of SKU-0022 and -0023)."""
    raw = yaml.safe_load(DEMO_SITE.read_text(encoding="utf-8"))
    today = datetime.now(UTC).date()
    raw["skus"] = [s for s in raw["skus"] if s["sku"] not in ("SKU-0022", "SKU-0023")]
    (mat,) = [s for s in raw["skus"] if s["sku"] == "SKU-0021"]
    mat.update(lot_tracked=True, removal="fefo", safety_stock=10)
    mat["bins"] = [
        {
            "node": node,
            "tote_id": tote,
            "qty": 10,
            "lot": lot,
            "expires_on": today + timedelta(days=d),
        }
        for node, tote, lot, d in [
            ("A5-01", "TOTE-0027", "L-OLD", -1),
            ("A5-02", "TOTE-0028", "L-30", 30),
            ("A5-03", "TOTE-0029", "L-10", 10),
        ]
    ]
    path = tmp_path / "lots.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
async def lot_app(database_url: str, lot_site: Path) -> FastAPI:
    return create_app(settings_for(database_url, sites=[lot_site]))


@pytest.fixture
async def lot_client(lot_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(lot_app) as c:
        yield c
        async with lot_app.state.context.database().reader() as session:
            assert await stock_invariant_violations(session) == []


async def test_fefo_never_takes_an_expired_lot_and_takes_the_soonest_expiry_first(
    lot_app: FastAPI, lot_client: httpx.AsyncClient
) -> None:
    client = lot_client
    in_ten_days = (datetime.now(UTC).date() + timedelta(days=10)).isoformat()
    in_five_days = (datetime.now(UTC).date() + timedelta(days=5)).isoformat()
    initial = await site_stock(client, "SKU-0021")
    assert (initial["on_hand"], initial["expired"], initial["available"]) == (30, 10, 20)

    no_lot = await receive(client, "GR-L1", {"bin": "A5-02", "sku": "SKU-0021", "qty": 1})
    other_lot = await receive(
        client,
        "GR-L1",
        {"bin": "A5-03", "sku": "SKU-0021", "qty": 1, "lot": "L-NEW", "expires_on": in_ten_days},
    )
    assert [e["field"] for e in assert_problem(no_lot, 422)["errors"]] == [
        "lines[0].lot",
        "lines[0].expires_on",
    ]
    assert [e["field"] for e in assert_problem(other_lot, 409)["errors"]] == ["lines[0].lot"]

    # Counted down below the safety stock: 20 available before, 9 after.
    low = await count(client, "CC-L1", ("A5-02", 4), ("A5-03", 5))
    assert low.status_code == 201, low.text
    assert [
        (e["sku"], e["available"], e["safety_stock"])
        for e in await webhook_events(lot_app, "stock.low")
    ] == [("SKU-0021", 9, 10)]
    assert metric(await metrics_text(client), "warehouse_api_stock_low_total", site=SITE) == 1
    assert (await site_stock(client, "SKU-0021"))["below_safety_stock"] is True

    first = await post_order(client, "SO-F1", ("10", "SKU-0021", 7))
    assert allocations(first) == [("10", "A5-03", 5), ("10", "A5-02", 2)]
    short = await post_order(client, "SO-F2", ("10", "SKU-0021", 5))
    assert (short["status"], allocations(short)) == ("partially_reserved", [("10", "A5-02", 2)])

    # The expired lot is written off; its bin takes a fresh lot, which the backorder gets.
    await count(client, "CC-L2", ("A5-01", 0))
    fresh = await receive(
        client,
        "GR-L2",
        {"bin": "A5-01", "sku": "SKU-0021", "qty": 6, "lot": "L-5", "expires_on": in_five_days},
    )
    assert fresh.status_code == 201, fresh.text
    assert [(o["order_id"], o["status"]) for o in fresh.json()["orders"]] == [("SO-F2", "reserved")]
    f2 = await get_order(client, "SO-F2")
    assert sorted(allocations(f2)) == [("10", "A5-01", 3), ("10", "A5-02", 2)]
    third = await post_order(client, "SO-F3", ("10", "SKU-0021", 3))
    assert allocations(third) == [("10", "A5-01", 3)]  # the soonest expiry, now 5 days
    figures = await site_stock(client, "SKU-0021")
    assert (figures["on_hand"], figures["expired"], figures["available"]) == (15, 0, 0)
