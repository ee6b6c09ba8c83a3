"""Order intake and reading: reservation at bin level, retries, idempotency, never oversell."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from api.main import create_app
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
from tests.conftest import DEMO_SITE


def allocations(order: dict[str, Any], line_id: str) -> list[tuple[str, str, int]]:
    line = next(x for x in order["lines"] if x["line_id"] == line_id)
    return [(a["bin"], a["tote_id"], a["qty"]) for a in line["allocations"]]


async def test_order_with_stock_is_reserved_at_bin_level(client: httpx.AsyncClient) -> None:
    # SKU-0001 holds 40 in A1-01 and 40 in A5-05: 45 takes one bin whole and 5 of the next.
    body = order_body("SO-1", ("10", "SKU-0003", 2), ("20", "SKU-0001", 45))
    response = await client.post("/api/v1/orders", json=body, headers=ERP)

    assert response.status_code == 201, response.text
    order = response.json()
    assert order["order_id"] == "SO-1"
    assert order["site"] == SITE
    assert order["status"] == "reserved"
    assert [(x["line_id"], x["qty"], x["reserved_qty"], x["picked_qty"], x["shipped_qty"])
            for x in order["lines"]] == [("10", 2, 2, 0, 0), ("20", 45, 45, 0, 0)]  # fmt: skip
    assert allocations(order, "10") == [("A1-03", "TOTE-0005", 2)]
    assert allocations(order, "20") == [("A1-01", "TOTE-0001", 40), ("A5-05", "TOTE-0002", 5)]
    assert order["parcels"] == []
    assert [e["type"] for e in order["events"]] == [
        "order.received",
        "order.reserved",
        "order.released",
    ]

    stock = (await client.get("/api/v1/stock/SKU-0001", headers=OPS)).json()
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (80, 45, 35)
    assert [(x["bin"], x["tote_id"], x["on_hand"], x["reserved"], x["available"])
            for x in stock["locations"]] == [
        ("A1-01", "TOTE-0001", 40, 40, 0),
        ("A5-05", "TOTE-0002", 40, 5, 35),
    ]  # fmt: skip

    fetched = await client.get("/api/v1/orders/SO-1", headers=ERP)
    assert fetched.status_code == 200
    assert fetched.json() == order


async def test_retried_push_with_the_same_body_answers_200_with_the_same_order(
    client: httpx.AsyncClient,
) -> None:
    body = order_body("SO-2", ("10", "SKU-0002", 3))
    first = await client.post("/api/v1/orders", json=body, headers=ERP)
    again = await client.post("/api/v1/orders", json=body, headers=ERP)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    stock = (await client.get("/api/v1/stock/SKU-0002", headers=ERP)).json()
    assert stock["reserved"] == 3  # reserved once


async def test_push_of_an_existing_order_with_another_body_is_a_409_problem(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/api/v1/orders", json=order_body("SO-3", ("10", "SKU-0002", 3)), headers=ERP)
    changed = order_body("SO-3", ("10", "SKU-0002", 4))

    response = await client.post("/api/v1/orders", json=changed, headers=ERP)

    problem = assert_problem(response, 409)
    assert problem["instance"] == "/api/v1/orders"
    assert "SO-3" in problem["detail"]
    stock = (await client.get("/api/v1/stock/SKU-0002", headers=ERP)).json()
    assert stock["reserved"] == 3


async def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(
    client: httpx.AsyncClient,
) -> None:
    body = order_body("SO-4", ("10", "SKU-0004", 1))
    keyed = {**ERP, "Idempotency-Key": "push-4"}

    first = await client.post("/api/v1/orders", json=body, headers=keyed)
    again = await client.post("/api/v1/orders", json=body, headers=keyed)
    other = await client.post(
        "/api/v1/orders", json=order_body("SO-5", ("10", "SKU-0004", 1)), headers=keyed
    )

    assert first.status_code == 201
    assert again.status_code == 201  # the same answer, status included
    assert again.json() == first.json()
    problem = assert_problem(other, 422)
    assert "push-4" in problem["detail"]
    missing = await client.get("/api/v1/orders/SO-5", headers=ERP)
    assert missing.status_code == 404


async def test_short_stock_gives_partially_reserved_then_backordered(
    client: httpx.AsyncClient, read_metric: Any
) -> None:
    partial_before = await read_metric("warehouse_api_orders_total", status="partially_reserved")
    # SKU-0007 has a single bin of 40.
    partial = await client.post(
        "/api/v1/orders",
        json=order_body("SO-6", ("10", "SKU-0007", 50), ("20", "SKU-0008", 1)),
        headers=ERP,
    )
    backordered = await client.post(
        "/api/v1/orders", json=order_body("SO-7", ("10", "SKU-0007", 1)), headers=ERP
    )

    assert partial.status_code == 201
    assert partial.json()["status"] == "partially_reserved"
    assert [x["reserved_qty"] for x in partial.json()["lines"]] == [40, 1]
    assert backordered.json()["status"] == "backordered"
    assert backordered.json()["lines"][0]["reserved_qty"] == 0
    assert backordered.json()["lines"][0]["allocations"] == []
    stock = (await client.get("/api/v1/stock/SKU-0007", headers=ERP)).json()
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (40, 40, 0)
    assert await read_metric("warehouse_api_orders_total", status="partially_reserved") == (
        partial_before + 1
    )


async def test_thirty_concurrent_orders_never_oversell_the_last_units(
    client: httpx.AsyncClient,
) -> None:
    # Leave 5 units of SKU-0007 (one bin of 40), then let 30 one-unit orders race for them.
    first = await client.post(
        "/api/v1/orders", json=order_body("SO-BIG", ("10", "SKU-0007", 35)), headers=ERP
    )
    assert first.json()["status"] == "reserved"

    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/orders",
                json=order_body(f"SO-R{i:02d}", ("10", "SKU-0007", 1)),
                headers=ERP,
            )
            for i in range(30)
        )
    )

    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    statuses = [r.json()["status"] for r in responses]
    assert statuses.count("reserved") == 5
    assert statuses.count("backordered") == 25
    stock = (await client.get("/api/v1/stock/SKU-0007", headers=ERP)).json()
    assert stock["reserved"] <= stock["on_hand"]
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (40, 40, 0)
    work = (await client.get(f"/api/v1/sites/{SITE}/work", headers=EDGE)).json()
    assert [item["seq"] for item in work["items"]] == list(range(1, 7))


async def test_unknown_order_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/orders/NOPE-1", headers=ERP)

    problem = assert_problem(response, 404)
    assert problem["instance"] == "/api/v1/orders/NOPE-1"
    assert "NOPE-1" in problem["detail"]


async def test_invalid_orders_are_422_problems_naming_the_fields(
    sqlite_client: httpx.AsyncClient,
) -> None:
    client = sqlite_client
    body = order_body("SO-8", ("10", "SKU-0001", 0))
    del body["ship_to"]["city"]

    schema = assert_problem(await client.post("/api/v1/orders", json=body, headers=ERP), 422)
    assert {e["field"] for e in schema["errors"]} == {"lines[0].qty", "ship_to.city"}
    assert "lines[0].qty" in schema["detail"]
    assert "ship_to.city" in schema["detail"]

    semantic = assert_problem(
        await client.post(
            "/api/v1/orders",
            json=order_body(
                "SO-9", ("10", "SKU-0001", 1), ("10", "SKU-9999", 1), carrier="POSTMAN-PAT"
            ),
            headers=ERP,
        ),
        422,
    )
    assert {e["field"] for e in semantic["errors"]} == {
        "lines[1].line_id",
        "lines[1].sku",
        "carrier",
    }
    unknown_site = assert_problem(
        await client.post(
            "/api/v1/orders",
            json=order_body("SO-10", ("10", "SKU-0001", 1), site="mars"),
            headers=ERP,
        ),
        422,
    )
    assert [e["field"] for e in unknown_site["errors"]] == ["site"]
    assert "mars" in unknown_site["detail"]
    # Nothing of the refused orders was stored.
    assert (await client.get("/api/v1/orders/SO-9", headers=ERP)).status_code == 404
    stock = (await client.get("/api/v1/stock/SKU-0001", headers=ERP)).json()
    assert stock["reserved"] == 0


async def test_unknown_sku_stock_is_a_404_problem(sqlite_client: httpx.AsyncClient) -> None:
    problem = assert_problem(await sqlite_client.get("/api/v1/stock/SKU-X", headers=OPS), 404)
    assert "SKU-X" in problem["detail"]


async def test_orders_list_pages_with_a_cursor_and_filters_by_status(
    sqlite_client: httpx.AsyncClient,
) -> None:
    client = sqlite_client
    for i in range(5):
        await client.post(
            "/api/v1/orders", json=order_body(f"SO-L{i}", ("10", "SKU-0010", 1)), headers=ERP
        )
    await client.post(
        "/api/v1/orders", json=order_body("SO-LBIG", ("10", "SKU-0010", 100)), headers=ERP
    )

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/orders", params=params, headers=ERP)).json()
        seen += [o["order_id"] for o in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["SO-L0", "SO-L1", "SO-L2", "SO-L3", "SO-L4", "SO-LBIG"]
    assert pages == 3

    partial = (
        await client.get("/api/v1/orders", params={"status": "partially_reserved"}, headers=ERP)
    ).json()
    assert [o["order_id"] for o in partial["items"]] == ["SO-LBIG"]
    assert partial["next_cursor"] is None

    bad = assert_problem(
        await client.get("/api/v1/orders", params={"status": "lost", "limit": 0}, headers=ERP), 422
    )
    assert {e["field"] for e in bad["errors"]} == {"status", "limit"}
    bad_cursor = assert_problem(
        await client.get("/api/v1/orders", params={"cursor": "bogus!"}, headers=ERP), 422
    )
    assert [e["field"] for e in bad_cursor["errors"]] == ["cursor"]


async def test_a_restart_does_not_seed_stock_twice(sqlite_only_url: str) -> None:
    async def restart_and_read() -> dict[str, Any]:
        app: FastAPI = create_app(settings_for(sqlite_only_url))
        async with running(app) as client:
            stock: dict[str, Any] = (await client.get("/api/v1/stock/SKU-0001", headers=OPS)).json()
        return stock

    first = await restart_and_read()
    second = await restart_and_read()

    assert first["on_hand"] == second["on_hand"] == 80


async def test_concurrent_pushes_of_one_order_create_it_once(client: httpx.AsyncClient) -> None:
    body = order_body("SO-TWIN", ("10", "SKU-0009", 3))

    responses = await asyncio.gather(
        *(client.post("/api/v1/orders", json=body, headers=ERP) for _ in range(6))
    )

    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({r.json()["created_at"] for r in responses}) == 1
    stock = (await client.get("/api/v1/stock/SKU-0009", headers=ERP)).json()
    assert stock["reserved"] == 3


async def test_an_order_without_a_site_goes_to_the_site_that_fills_it_whole_else_most(
    tmp_path: Path, sqlite_only_url: str
) -> None:
    north = tmp_path / "north.yaml"
    north.write_text(
        DEMO_SITE.read_text(encoding="utf-8")
        .replace("site: demo", "site: north", 1)
        .replace(
            "{node: A2-02, tote_id: TOTE-0013, qty: 40}",
            "{node: A2-02, tote_id: TOTE-0013, qty: 100}",
        ),
        encoding="utf-8",
    )
    app = create_app(settings_for(sqlite_only_url, sites=[DEMO_SITE, north]))
    async with running(app) as client:

        async def place(order_id: str, qty: int, **extra: Any) -> dict[str, Any]:
            body = order_body(order_id, ("10", "SKU-0007", qty), **extra)
            answer = await client.post("/api/v1/orders", json=body, headers=ERP)
            assert answer.status_code == 201, answer.text
            return dict(answer.json())

        only_north_whole = await place("SO-N1", 41)  # demo has 40, north 100
        both_whole = await place("SO-N2", 30)  # demo 40, north 59: the first configured
        neither_whole = await place("SO-N3", 200)  # demo 10, north 59: the one filling most
        named = await place("SO-N4", 1, site="demo")
        stock = (await client.get("/api/v1/stock/SKU-0007", headers=OPS)).json()

    assert [
        (o["site"], o["status"], o["lines"][0]["reserved_qty"])
        for o in (only_north_whole, both_whole, neither_whole, named)
    ] == [
        ("north", "reserved", 41),
        ("demo", "reserved", 30),
        ("north", "partially_reserved", 59),
        ("demo", "reserved", 1),
    ]
    assert [(x["site"], x["on_hand"], x["reserved"]) for x in stock["locations"]] == [
        ("demo", 40, 31),
        ("north", 100, 100),
    ]
