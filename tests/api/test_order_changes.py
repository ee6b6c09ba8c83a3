"""Amendments, cancellation at every stage, put-back, Idempotency-Key replay, and the stock
invariants, on SQLite and PostgreSQL (the `client` fixture checks the invariants after each)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from api.models import BinRow
from tests.api.conftest import ERP, assert_problem, order_body
from tests.api.invariants import stock_invariant_violations
from tests.api.test_edge import SSCC, event, push, send, stock

SITE = "demo"


async def work(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    from tests.api.conftest import EDGE

    page = (await client.get(f"/api/v1/sites/{SITE}/work", headers=EDGE)).json()
    items: list[dict[str, Any]] = page["items"]
    return items


async def post(client: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await client.post("/api/v1/orders", json=body, headers={**ERP, **headers})


async def cancel(client: httpx.AsyncClient, order_id: str) -> httpx.Response:
    return await client.post(f"/api/v1/orders/{order_id}/cancel", json={}, headers=ERP)


async def test_a_higher_version_replaces_the_lines_and_re_releases(
    client: httpx.AsyncClient,
) -> None:
    await push(client, "SO-A1", ("10", "SKU-0003", 2))
    amended = await post(client, order_body("SO-A1", ("10", "SKU-0004", 5), version=2))
    assert amended.status_code == 200, amended.text
    body = amended.json()
    assert (body["version"], body["status"]) == (2, "reserved")
    assert [(x["sku"], x["qty"], x["reserved_qty"]) for x in body["lines"]] == [("SKU-0004", 5, 5)]
    assert (await stock(client, "SKU-0003"))["reserved"] == 0
    assert (await stock(client, "SKU-0004"))["reserved"] == 5
    released = [(i["type"], i["order"]["version"]) for i in await work(client)]
    assert released == [("order.released", 1), ("order.released", 2)]


async def test_a_stale_version_and_a_changed_body_at_the_same_version_are_409(
    client: httpx.AsyncClient,
) -> None:
    await post(client, order_body("SO-A2", ("10", "SKU-0003", 1), version=3))
    stale = await post(client, order_body("SO-A2", ("10", "SKU-0003", 9), version=2))
    same_version = await post(client, order_body("SO-A2", ("10", "SKU-0003", 9), version=3))
    assert assert_problem(stale, 409)["current_version"] == 3
    assert assert_problem(same_version, 409)["type"].endswith("order-conflict")


async def test_an_amendment_after_picking_started_is_refused(client: httpx.AsyncClient) -> None:
    await push(client, "SO-A3", ("10", "SKU-0003", 2))
    await send(client, event("order.picking", "SO-A3"))
    refused = await post(client, order_body("SO-A3", ("10", "SKU-0003", 1), version=2))
    assert "amendment-refused" in assert_problem(refused, 409)["type"]


async def test_cancelling_an_order_the_site_does_not_hold_releases_its_stock_at_once(
    client: httpx.AsyncClient,
) -> None:
    short = await push(client, "SO-C1", ("10", "SKU-0011", 41))  # 40 in stock
    assert short["status"] == "partially_reserved"
    answer = await cancel(client, "SO-C1")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "cancelled"
    assert (await stock(client, "SKU-0011"))["reserved"] == 0
    assert await work(client) == []
    late = await post(client, order_body("SO-C1", ("10", "SKU-0011", 41)))
    assert "order-cancelled" in assert_problem(late, 409)["type"]


async def test_cancel_of_a_held_order_waits_for_the_site_then_puts_picked_units_back(
    client: httpx.AsyncClient,
) -> None:
    await push(client, "SO-C2", ("10", "SKU-0003", 3), ("20", "SKU-0004", 2))
    picked = {"line_id": "10", "sku": "SKU-0003", "bin": "A1-03", "qty": 3}
    await send(client, event("order.picking", "SO-C2"), event("line.picked", "SO-C2", picked))

    first = await cancel(client, "SO-C2")
    again = await cancel(client, "SO-C2")
    assert (first.status_code, first.json()["status"]) == (202, "cancel_requested")
    assert again.status_code == 202
    cancels = [i for i in await work(client) if i["type"] == "order.cancel"]
    assert cancels == [{"seq": 2, "type": "order.cancel", "order_id": "SO-C2"}]

    assert [r["status"] for r in await send(client, event("order.cancelled", "SO-C2"))] == [
        "accepted"
    ]
    order = (await client.get("/api/v1/orders/SO-C2", headers=ERP)).json()
    assert order["status"] == "cancelled"
    assert (await stock(client, "SKU-0004"))["reserved"] == 0
    putbacks = [i["putback"] for i in await work(client) if i["type"] == "putback.requested"]
    assert [(p["order_id"], p["lines"]) for p in putbacks] == [
        (
            "SO-C2",
            [
                {
                    "line_id": "10",
                    "sku": "SKU-0003",
                    "gtin": "00614141001026",
                    "bin": "A1-03",
                    "tote_id": "TOTE-0005",
                    "qty": 3,
                }
            ],
        )
    ]
    on_hand_before = (await stock(client, "SKU-0003"))["on_hand"]
    back = {**putbacks[0]["lines"][0], "putback_id": putbacks[0]["putback_id"]}
    del back["gtin"]
    put_back = event("line.put_back", "SO-C2", back)
    assert [r["status"] for r in await send(client, put_back, put_back)] == [
        "accepted",
        "duplicate",
    ]
    assert (await stock(client, "SKU-0003"))["on_hand"] == on_hand_before + 3
    too_much = event("line.put_back", "SO-C2", {**back, "qty": 1})
    assert [r["status"] for r in await send(client, too_much)] == ["rejected"]


async def test_a_shipped_order_cannot_be_cancelled(client: httpx.AsyncClient) -> None:
    await push(client, "SO-C3", ("10", "SKU-0003", 1))
    picked = {"line_id": "10", "sku": "SKU-0003", "bin": "A1-03", "qty": 1}
    chain = [
        event("order.picking", "SO-C3"),
        event("line.picked", "SO-C3", picked),
        event("order.picked", "SO-C3"),
        event("order.packed", "SO-C3", {"sscc": SSCC, "carrier": "DHL", "epcs": ["3034"]}),
        event("parcel.sorted", "SO-C3", {"sscc": SSCC, "chute": "C01"}),
        event("parcel.loaded", "SO-C3", {"sscc": SSCC, "door": "D1"}),
        event("parcel.shipped", "SO-C3", {"sscc": SSCC, "door": "D1"}),
    ]
    assert {r["status"] for r in await send(client, *chain)} == {"accepted"}
    assert "cancel-refused" in assert_problem(await cancel(client, "SO-C3"), 409)["type"]


async def test_idempotency_key_replays_the_first_answer_as_it_was(
    client: httpx.AsyncClient,
) -> None:
    body = order_body("SO-K1", ("10", "SKU-0003", 1))
    first = await post(client, body, **{"Idempotency-Key": "k-1"})
    await send(client, event("order.picking", "SO-K1"))
    replay = await post(client, body, **{"Idempotency-Key": "k-1"})
    plain = await post(client, body)
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()  # the stored answer, not today's status
    assert (plain.status_code, plain.json()["status"]) == (200, "picking")
    other = await post(
        client, order_body("SO-K2", ("10", "SKU-0003", 1)), **{"Idempotency-Key": "k-1"}
    )
    assert_problem(other, 422)


async def test_the_invariant_check_sees_a_bin_changed_without_a_ledger_row(app: FastAPI) -> None:
    from tests.api.conftest import running

    async with running(app):
        async with app.state.context.database().writer() as session, session.begin():
            await session.execute(update(BinRow).where(BinRow.bin == "A1-03").values(on_hand=1))
        async with app.state.context.database().reader() as session:
            problems = await stock_invariant_violations(session)
    assert problems == ["demo/A1-03: ledger says 40, on hand 1"]


async def test_the_api_docs_describe_every_problem_an_order_push_or_cancel_can_answer(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    push = paths["/api/v1/orders"]["post"]["responses"]
    cancel_answers = paths["/api/v1/orders/{order_id}/cancel"]["post"]["responses"]
    for slug in ("order-conflict", "stale-order-version", "order-cancelled", "amendment-refused"):
        assert slug in push["409"]["description"]
    assert "idempotency-key-reused" in push["422"]["description"]
    assert {"200", "201", "401", "403", "422", "503"} <= push.keys()
    assert "cancel-refused" in cancel_answers["409"]["description"]
    assert {"200", "202", "404"} <= cancel_answers.keys()
