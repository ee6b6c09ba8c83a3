"""The simulated ERP: seeded orders, and pushing them over HTTP (to a loopback stub)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from simulators.common.config import SiteConfig
from simulators.erp import OrderPushError, build_orders, push_orders
from tests.conftest import DEMO_SITE


def test_orders_are_seeded_released_orders_of_the_site(demo_site: SiteConfig):
    orders = build_orders(demo_site, count=30, seed=7)
    assert orders == build_orders(demo_site, count=30, seed=7)
    ids = [o["order_id"] for o in orders]
    assert len(set(ids)) == 30
    assert all(i.startswith("SO-7-") for i in ids)
    assert not set(ids) & {o["order_id"] for o in build_orders(demo_site, count=30, seed=8)}
    skus = {s.sku for s in demo_site.skus}
    carriers = {c.code for c in demo_site.carriers}
    for o in orders:
        assert o["site"] == "demo"
        assert 0 <= o["priority"] <= 9
        assert o["carrier"] in carriers
        assert set(o["customer"]) == {"id", "name"}
        assert set(o["ship_to"]) == {"name", "line1", "city", "postal_code", "country"}
        lines = o["lines"]
        assert 1 <= len(lines) <= 3
        assert [line["line_id"] for line in lines] == [str(10 * (i + 1)) for i in range(len(lines))]
        assert len({line["sku"] for line in lines}) == len(lines)
        assert all(line["sku"] in skus and 1 <= line["qty"] <= 3 for line in lines)


@dataclass
class StubApi:
    """A minimal HTTP/1.1 server on 127.0.0.1 that records requests and answers `respond`."""

    respond: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]
    requests: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                _, path, _ = line.decode().split(" ", 2)
                headers = {}
                while (header := await reader.readline()) not in (b"\r\n", b""):
                    name, value = header.decode().split(":", 1)
                    headers[name.strip().lower()] = value.strip()
                body = json.loads(await reader.readexactly(int(headers["content-length"])))
                self.requests.append((path, headers, body))
                status, answer = self.respond(body)
                data = json.dumps(answer).encode()
                kind = "application/json" if status < 400 else "application/problem+json"
                writer.write(
                    f"HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\n"
                    f"content-length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def stub_api() -> AsyncIterator[Callable[..., StubApi]]:
    servers = []

    async def start(respond: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]) -> StubApi:
        stub = StubApi(respond)
        server = await asyncio.start_server(stub.handle, "127.0.0.1", 0)
        servers.append(server)
        stub.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        return stub

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_push_orders_posts_each_order_with_the_api_key(stub_api):
    stub = await stub_api(lambda body: (201, {"order_id": body["order_id"], "status": "reserved"}))
    ids = await push_orders(
        api_url=stub.url + "/", api_key="k-erp", site_config=DEMO_SITE, count=3, seed=2
    )
    assert len(ids) == 3
    assert [body["order_id"] for _, _, body in stub.requests] == ids
    for path, headers, _ in stub.requests:
        assert path == "/api/v1/orders"
        assert headers["authorization"] == "Bearer k-erp"


async def test_push_orders_raises_with_the_problem_detail(stub_api):
    problem = {"type": "about:blank", "title": "Conflict", "status": 409, "detail": "body differs"}
    stub = await stub_api(lambda body: (409, problem))
    with pytest.raises(OrderPushError, match="body differs") as caught:
        await push_orders(api_url=stub.url, api_key="k", site_config=DEMO_SITE, count=2, seed=2)
    assert caught.value.status == 409
    assert caught.value.detail == "body differs"
    assert len(stub.requests) == 1
