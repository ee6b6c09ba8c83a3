"""ERP webhooks: subscriptions, the transactional outbox, and signed, retried deliveries to a
real HTTP receiver (uvicorn on a free local port), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select

from api.main import create_app
from api.settings import WebhookSettings
from api.webhooks import enqueue_webhook_event
from api.webhooks.claims import claim
from api.webhooks.models import WebhookDeliveryRow, WebhookEventRow, WebhookRow
from api.webhooks.retry import retry_delay
from api.webhooks.signing import signature
from tests.api.conftest import (
    ADMIN,
    ERP,
    OPS,
    assert_problem,
    metric,
    running,
    settings_for,
)

T = TypeVar("T")
SECRET = "whsec-0123456789abcdef"
OCCURRED = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
DEADLINE_S = 15.0
# Tiny back-off, and a poll far longer than any test: a delivery seen in time was woken.
FAST = WebhookSettings(
    poll_interval_s=60, timeout_s=5, first_retry_s=0.01, max_retry_s=0.05, max_attempts=5
)


# --- a real receiver ---------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """An ASGI app served by uvicorn: records every request; answers 500 to a path while
    `failures[path]` is above zero (counting down), 200 otherwise."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(DEADLINE_S), self.changed:
            await self.changed.wait_for(predicate)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        path = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status = 200
        if self.failures.get(path, 0) > 0:
            self.failures[path] -= 1
            status = 500
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        async with self.changed:
            self.received.append(Received(path, headers, body))
            self.changed.notify_all()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    config = uvicorn.Config(
        r, host="127.0.0.1", port=0, lifespan="off", http="h11", ws="none", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await eventually(lambda: _true(server.started or task.done()))
    assert not task.done(), "the receiver did not start"
    r.port = server.servers[0].sockets[0].getsockname()[1]
    yield r
    server.should_exit = True
    await task


async def _true(value: bool) -> bool:
    return value


async def eventually(check: Callable[[], Awaitable[T]]) -> T:
    """`check()`'s first truthy value, looked for until the deadline."""
    async with asyncio.timeout(DEADLINE_S):
        # A database row changes with no event to await: looked at again and again.
        while not (value := await check()):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return value


async def settled(app: FastAPI, *expected: str) -> None:
    """Wait until the deliveries' statuses, oldest first, are `expected`."""

    async def reached() -> bool:
        return await statuses(app) == list(expected)

    await eventually(reached)


# --- the API under test ------------------------------------------------------------------


@asynccontextmanager
async def api(
    database_url: str, webhooks: WebhookSettings = FAST
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings_for(database_url).model_copy(update={"webhooks": webhooks}))
    async with running(app) as client:
        yield app, client


async def subscribe(
    client: httpx.AsyncClient, url: str, events: list[str], headers: dict[str, str] = ERP
) -> str:
    response = await client.post(
        "/api/v1/webhooks", json={"url": url, "events": events, "secret": SECRET}, headers=headers
    )
    assert response.status_code == 201, response.text
    webhook_id: str = response.json()["webhook_id"]
    return webhook_id


async def enqueue(app: FastAPI, event_type: str = "order.shipped", **kw: Any) -> str:
    db = app.state.context.database()
    async with db.writer() as session, session.begin():
        data = kw.pop("data", {"order_id": "SO-1"})
        return await enqueue_webhook_event(session, event_type, data, occurred_at=OCCURRED, **kw)


async def deliveries(app: FastAPI) -> list[tuple[str, str, str, int]]:
    """(webhook id, event id, status, attempts) of every delivery, oldest first."""
    db = app.state.context.database()
    async with db.reader() as session, session.begin():
        rows = await session.execute(
            select(
                WebhookRow.webhook_id,
                WebhookEventRow.event_id,
                WebhookDeliveryRow.status,
                WebhookDeliveryRow.attempts,
            )
            .join(WebhookRow, WebhookRow.id == WebhookDeliveryRow.webhook_pk)
            .join(WebhookEventRow, WebhookEventRow.id == WebhookDeliveryRow.event_pk)
            .order_by(WebhookDeliveryRow.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def statuses(app: FastAPI) -> list[str]:
    return [status for _, _, status, _ in await deliveries(app)]


def assert_signed(request: Received, secret: str = SECRET) -> None:
    """Verified as a receiver would, without the API's code: HMAC over timestamp.body."""
    timestamp = request.headers["webhook-timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert hmac.compare_digest(request.headers["webhook-signature"], "sha256=" + mac.hexdigest())
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == request.event["event_id"]


# --- subscriptions -----------------------------------------------------------------------


async def test_subscription_is_created_listed_and_deleted_never_showing_its_secret(
    database_url: str,
) -> None:
    async with api(database_url) as (_, client):
        body = {"url": "https://erp.example.com/hook", "events": ["order.shipped", "*"]}
        created = await client.post(
            "/api/v1/webhooks", json={**body, "secret": SECRET}, headers=ERP
        )
        assert created.status_code == 201, created.text
        webhook = created.json()
        assert webhook.keys() == {"webhook_id", "url", "events", "created_at"}
        assert (webhook["url"], webhook["events"]) == (body["url"], body["events"])
        admins = await subscribe(client, "http://erp.example.com/admin", ["stock.low"], ADMIN)

        listed = await client.get("/api/v1/webhooks", headers=ERP)
        assert listed.json() == {"items": [webhook]}
        assert SECRET not in created.text + listed.text
        everyone = (await client.get("/api/v1/webhooks", headers=ADMIN)).json()["items"]
        assert [w["webhook_id"] for w in everyone] == [webhook["webhook_id"], admins]

        assert_problem(await client.delete(f"/api/v1/webhooks/{admins}", headers=ERP), 404)
        path = f"/api/v1/webhooks/{webhook['webhook_id']}"
        assert (await client.delete(path, headers=ERP)).status_code == 204
        assert (await client.get("/api/v1/webhooks", headers=ERP)).json() == {"items": []}
        assert_problem(await client.delete(path, headers=ERP), 404)


async def test_invalid_subscription_is_refused_naming_every_failing_field(
    database_url: str,
) -> None:
    async with api(database_url) as (_, client):
        response = await client.post(
            "/api/v1/webhooks",
            json={
                "url": "ftp://erp.example.com/",
                "events": ["order.shipped", "order.teleported"],
                "secret": "too-short",
            },
            headers=ERP,
        )
        problem = assert_problem(response, 422)
        assert [e["field"] for e in problem["errors"]] == ["url", "events[1]", "secret"]
        assert "order.teleported" in problem["detail"]
        assert (await client.get("/api/v1/webhooks", headers=ERP)).json() == {"items": []}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"url": "http:///no-host"}, "url"),
        ({"url": "https://erp.example.com/a b"}, "url"),
        ({"url": "https://erp.example.com:99999/"}, "url"),
        ({"url": "erp.example.com/hook"}, "url"),
        ({"events": []}, "events"),
        ({"events": ["order.*"]}, "events[0]"),
        ({"events": "order.shipped"}, "events"),
        ({"secret": "x" * 15}, "secret"),
        ({"secret": None}, "secret"),
    ],
)
async def test_each_bad_field_is_named(
    sqlite_client: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    body = {"url": "https://erp.example.com/hook", "events": ["stock.low"], "secret": SECRET}
    response = await sqlite_client.post("/api/v1/webhooks", json=body | change, headers=ERP)
    assert [e["field"] for e in assert_problem(response, 422)["errors"]] == [field]


async def test_only_erp_and_admin_keys_may_subscribe(sqlite_client: httpx.AsyncClient) -> None:
    body = {"url": "https://erp.example.com/hook", "events": ["*"], "secret": SECRET}
    assert_problem(await sqlite_client.post("/api/v1/webhooks", json=body, headers=OPS), 403)
    assert_problem(await sqlite_client.post("/api/v1/webhooks", json=body), 401)
    assert_problem(await sqlite_client.get("/api/v1/webhooks", headers=OPS), 403)


async def test_openapi_documents_the_webhook_problems(sqlite_client: httpx.AsyncClient) -> None:
    paths = (await sqlite_client.get("/openapi.json")).json()["paths"]
    assert {"201", "401", "403", "422"} <= paths["/api/v1/webhooks"]["post"]["responses"].keys()
    assert "Webhook-Signature" in paths["/api/v1/webhooks"]["post"]["description"]
    delete = paths["/api/v1/webhooks/{webhook_id}"]["delete"]["responses"]
    assert {"204", "401", "403", "404"} <= delete.keys()


# --- deliveries --------------------------------------------------------------------------


async def test_enqueued_event_is_delivered_at_once_signed(
    database_url: str, receiver: Receiver
) -> None:
    async with api(database_url) as (app, client):
        await subscribe(client, receiver.url("/hook"), ["order.shipped"])
        event_id = await enqueue(app, data={"order_id": "SO-1", "tracking": ["1Z999"]})

        await receiver.wait_for(lambda: len(receiver.received) == 1)  # long before the poll
        request = receiver.received[0]
        assert_signed(request)
        assert request.headers["webhook-id"] == event_id
        assert request.event == {
            "event_id": event_id,
            "type": "order.shipped",
            "occurred_at": "2024-05-01T12:30:00Z",
            "data": {"order_id": "SO-1", "tracking": ["1Z999"]},
        }
        await settled(app, "delivered")
        text = (await client.get("/metrics")).text
        assert metric(text, "warehouse_api_webhook_deliveries_total", result="delivered") == 1
        assert metric(text, "warehouse_api_webhook_delivery_latency_seconds_count") == 1
        assert metric(text, "warehouse_api_webhook_attempt_seconds_count") == 1


async def test_receiver_failing_twice_gets_the_event_on_the_third_attempt(
    database_url: str, receiver: Receiver
) -> None:
    receiver.failures["/flaky"] = 2
    async with api(database_url) as (app, client):
        await subscribe(client, receiver.url("/flaky"), ["order.cancelled"])
        event_id = await enqueue(app, "order.cancelled")

        await receiver.wait_for(lambda: len(receiver.received) == 3)
        assert [r.headers["webhook-id"] for r in receiver.received] == [event_id] * 3
        assert len({r.body for r in receiver.received}) == 1  # the same bytes every time
        for request in receiver.received:
            assert_signed(request)

        async def delivered() -> bool:
            return [(s, n) for _, _, s, n in await deliveries(app)] == [("delivered", 3)]

        await eventually(delivered)
        text = (await client.get("/metrics")).text
        assert metric(text, "warehouse_api_webhook_deliveries_total", result="retried") == 2
        assert metric(text, "warehouse_api_webhook_deliveries_total", result="delivered") == 1
        assert metric(text, "warehouse_api_webhook_attempt_seconds_count") == 3


async def test_delivery_fails_after_the_last_attempt(
    database_url: str, receiver: Receiver, unused_port: int
) -> None:
    receiver.failures["/down"] = 1000
    settings = FAST.model_copy(update={"max_attempts": 2})
    async with api(database_url, settings) as (app, client):
        await subscribe(client, receiver.url("/down"), ["stock.shortage"])
        await subscribe(client, f"http://127.0.0.1:{unused_port}/nobody", ["stock.shortage"])
        await enqueue(app, "stock.shortage", data={"sku": "SKU-0001"})

        await settled(app, "failed", "failed")
        assert len(receiver.at("/down")) == 2
        text = (await client.get("/metrics")).text
        assert metric(text, "warehouse_api_webhook_deliveries_total", result="retried") == 2
        assert metric(text, "warehouse_api_webhook_deliveries_total", result="failed") == 2
        assert metric(text, "warehouse_api_webhook_deliveries_total", result="delivered") == 0


async def test_event_of_a_rolled_back_transaction_is_never_delivered(
    database_url: str, receiver: Receiver
) -> None:
    async with api(database_url) as (app, client):
        await subscribe(client, receiver.url("/hook"), ["*"])
        db = app.state.context.database()

        async def failing_change() -> None:
            async with db.writer() as session, session.begin():
                await enqueue_webhook_event(
                    session, "order.shipped", {}, event_id="rolled-back", occurred_at=OCCURRED
                )
                raise RuntimeError("the business change failed")

        with pytest.raises(RuntimeError, match="the business change failed"):
            await failing_change()
        committed = await enqueue(app, "order.shipped")

        await receiver.wait_for(lambda: len(receiver.received) >= 1)
        assert [r.headers["webhook-id"] for r in receiver.received] == [committed]
        assert [event_id for _, event_id, _, _ in await deliveries(app)] == [committed]


async def test_subscription_for_other_event_types_gets_nothing(
    database_url: str, receiver: Receiver
) -> None:
    async with api(database_url) as (app, client):
        shipped = await subscribe(client, receiver.url("/shipped"), ["order.shipped"])
        stock = await subscribe(client, receiver.url("/stock"), ["stock.low"])
        everything = await subscribe(client, receiver.url("/all"), ["*"])
        low = await enqueue(app, "stock.low", data={"sku": "SKU-0001"})
        ship = await enqueue(app, "order.shipped")

        await receiver.wait_for(lambda: len(receiver.received) == 4)
        by_path = {
            p: [r.headers["webhook-id"] for r in receiver.at(p)] for p in ("/shipped", "/stock")
        }
        assert by_path == {"/shipped": [ship], "/stock": [low]}
        assert sorted(r.headers["webhook-id"] for r in receiver.at("/all")) == sorted([low, ship])
        assert sorted((w, e) for w, e, _, _ in await deliveries(app)) == sorted(
            [(stock, low), (everything, low), (shipped, ship), (everything, ship)]
        )


async def test_deleting_a_subscription_stops_its_deliveries(
    database_url: str, receiver: Receiver
) -> None:
    receiver.failures["/gone"] = 1000
    slow_retry = FAST.model_copy(update={"first_retry_s": 60, "max_retry_s": 60})
    async with api(database_url, slow_retry) as (app, client):
        gone = await subscribe(client, receiver.url("/gone"), ["order.backordered"])
        await enqueue(app, "order.backordered")
        await receiver.wait_for(lambda: len(receiver.at("/gone")) == 1)
        await settled(app, "pending")  # the next attempt is a minute away

        assert (await client.delete(f"/api/v1/webhooks/{gone}", headers=ERP)).status_code == 204
        assert await statuses(app) == ["cancelled"]
        await subscribe(client, receiver.url("/live"), ["order.backordered"])
        later = await enqueue(app, "order.backordered")

        await receiver.wait_for(lambda: len(receiver.at("/live")) == 1)
        assert receiver.at("/live")[0].headers["webhook-id"] == later
        assert len(receiver.at("/gone")) == 1
        # None for the deleted subscription: only the cancelled one from before.
        assert [w for w, _, _, _ in await deliveries(app)].count(gone) == 1
        await settled(app, "cancelled", "delivered")


async def test_an_event_id_is_recorded_and_sent_once(database_url: str, receiver: Receiver) -> None:
    async with api(database_url) as (app, client):
        await subscribe(client, receiver.url("/hook"), ["order.status_changed"])
        for _ in range(2):  # e.g. a handler run again after a crash
            await enqueue(app, "order.status_changed", event_id="SO-1:picked")
        sentinel = await enqueue(app, "order.status_changed")

        await receiver.wait_for(lambda: len(receiver.received) >= 2)
        await eventually(lambda: _all_delivered(app))
        assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(
            ["SO-1:picked", sentinel]
        )


async def _all_delivered(app: FastAPI) -> bool:
    found = await statuses(app)
    return bool(found) and set(found) == {"delivered"}


async def test_two_workers_never_send_one_delivery_twice(
    database_url: str, receiver: Receiver
) -> None:
    competing = FAST.model_copy(update={"poll_interval_s": 0.02, "concurrency": 3})
    async with (
        api(database_url, competing) as (first, client),
        api(database_url, competing) as (
            second,
            other_client,
        ),
    ):
        await subscribe(client, receiver.url("/hook"), ["order.shipped"])
        events = []
        for i in range(5):  # batches from both processes, each poking only its own worker
            for app in (first, second):
                db = app.state.context.database()
                async with db.writer() as session, session.begin():
                    for j in range(3):
                        events.append(
                            await enqueue_webhook_event(
                                session, "order.shipped", {"n": (i, j)}, occurred_at=OCCURRED
                            )
                        )

        await receiver.wait_for(lambda: len(receiver.received) >= len(events))
        await eventually(lambda: _all_delivered(first))
        sent = [r.headers["webhook-id"] for r in receiver.received]
        assert sorted(sent) == sorted(events)  # each once: no duplicates on the wire

        counted = 0.0
        for c in (client, other_client):
            text = (await c.get("/metrics")).text
            counted += metric(text, "warehouse_api_webhook_deliveries_total", result="delivered")
        assert counted == len(events)


async def test_concurrent_claims_never_share_a_row_and_a_dead_claim_runs_out(
    database_url: str,
) -> None:
    async with api(database_url, FAST.model_copy(update={"deliver": False})) as (app, client):
        await subscribe(client, "http://127.0.0.1:9/nobody", ["*"])
        for _ in range(4):
            db = app.state.context.database()
            async with db.writer() as session, session.begin():
                for _ in range(10):
                    await enqueue_webhook_event(session, "stock.low", {}, occurred_at=OCCURRED)
        now = datetime.now(UTC)

        batches = await asyncio.gather(*(claim(db, now, limit=5, lease_s=30) for _ in range(10)))
        claimed = [c.delivery_pk for batch in batches for c in batch]
        assert len(claimed) == len(set(claimed)) == 40
        assert await claim(db, now, limit=50, lease_s=30) == []  # all held
        # Their worker died: once the lease has run out, another takes them over.
        later = now + timedelta(seconds=31)
        taken_over = await claim(db, later, limit=50, lease_s=30)
        assert sorted(c.delivery_pk for c in taken_over) == sorted(claimed)
        assert {c.attempt for c in taken_over} == {2}


async def test_worker_can_be_switched_off_for_a_process(sqlite_only_url: str) -> None:
    async with api(sqlite_only_url, FAST.model_copy(update={"deliver": False})) as (app, client):
        await subscribe(client, "http://127.0.0.1:9/never", ["*"])
        await enqueue(app)
        assert await statuses(app) == ["pending"]


# --- the outbox's contract with its callers ----------------------------------------------


async def test_enqueue_refuses_misuse(sqlite_only_url: str) -> None:
    async with api(sqlite_only_url) as (app, _):
        db = app.state.context.database()
        async with db.writer() as session:
            with pytest.raises(RuntimeError, match="inside the caller's transaction"):
                await enqueue_webhook_event(session, "order.shipped", {}, occurred_at=OCCURRED)
            async with session.begin():
                with pytest.raises(ValueError, match="unknown webhook event type"):
                    await enqueue_webhook_event(session, "order.lost", {}, occurred_at=OCCURRED)
                with pytest.raises(ValueError, match="naive"):
                    await enqueue_webhook_event(
                        session, "order.shipped", {}, occurred_at=datetime(2024, 5, 1)
                    )
                with pytest.raises(ValueError, match="not JSON compliant"):
                    await enqueue_webhook_event(
                        session, "stock.low", {"qty": float("nan")}, occurred_at=OCCURRED
                    )


def test_signature_matches_an_independent_hmac() -> None:
    # printf '%s' '1700000000.{"event_id":"e-1","data":{}}' | openssl dgst -sha256 -hmac <secret>
    expected = "3b326f2a155faa457888f233842dd96e306b25d1fbe872f0bdc92dd0a8742e8d"
    body = b'{"event_id":"e-1","data":{}}'
    assert signature(SECRET, 1700000000, body) == "sha256=" + expected


def test_retry_delay_grows_with_jitter_up_to_the_cap() -> None:
    rng = Random(7)
    for attempt, step in [(1, 5.0), (2, 10.0), (3, 20.0), (8, 600.0), (500, 600.0)]:
        delays = [retry_delay(attempt, first_s=5, max_s=600, rng=rng) for _ in range(50)]
        assert all(step / 2 <= d <= step for d in delays)
        assert len(set(delays)) > 1


# --- helpers for the fixtures above ------------------------------------------------------


@pytest.fixture
def unused_port() -> Iterator[int]:
    """A local port nobody listens on: bound, never listened on, so connections are refused."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]
