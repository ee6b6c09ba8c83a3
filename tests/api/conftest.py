"""The central API against a real database: SQLite in a temporary directory, and PostgreSQL
(a fresh database per test, from the `postgres_url` fixture) for the tests that take both.

The app runs its lifespan (engine, tables, seeding) as in production; requests go through
httpx's ASGI transport, so concurrent requests really run concurrently on the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.main import create_app
from api.settings import ApiSettings
from tests.api.invariants import stock_invariant_violations
from tests.conftest import DEMO_SITE

ERP_KEY = "erp-key-0001"
EDGE_KEY = "edge-key-0001"
OPS_KEY = "ops-key-0001"
ADMIN_KEY = "admin-key-0001"
ERP = {"Authorization": f"Bearer {ERP_KEY}"}
EDGE = {"Authorization": f"Bearer {EDGE_KEY}"}
OPS = {"Authorization": f"Bearer {OPS_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
SITE = "demo"


def settings_for(database_url: str, *, sites: list[Path] | None = None) -> ApiSettings:
    return ApiSettings(
        database_url=database_url,
        site_configs=sites or [DEMO_SITE],
        api_keys={ERP_KEY: ["erp"], EDGE_KEY: ["edge"], OPS_KEY: ["ops"], ADMIN_KEY: ["admin"]},
    )


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'warehouse.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that asks for this runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def sqlite_only_url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app's lifespan entered, and a client talking to it in process."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client,
    ):
        yield client


@pytest.fixture
async def app(database_url: str) -> FastAPI:
    return create_app(settings_for(database_url))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as c:
        yield c
        # Whatever the test did, stock must still add up.
        async with app.state.context.database().reader() as session:
            assert await stock_invariant_violations(session) == []


@pytest.fixture
async def sqlite_app(sqlite_only_url: str) -> FastAPI:
    return create_app(settings_for(sqlite_only_url))


@pytest.fixture
async def sqlite_client(sqlite_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(sqlite_app) as c:
        yield c


def order_body(order_id: str, *lines: tuple[str, str, int], **extra: Any) -> dict[str, Any]:
    """A minimal valid order; `lines` are (line_id, sku, qty)."""
    body: dict[str, Any] = {
        "order_id": order_id,
        "ship_to": {
            "name": "Ada Lovelace",
            "line1": "1 Analytical Way",
            "city": "London",
            "postal_code": "N1 9GU",
            "country": "GB",
        },
        "carrier": "DHL",
        "lines": [{"line_id": lid, "sku": sku, "qty": qty} for lid, sku, qty in lines],
    }
    body.update(extra)
    return body


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= body.keys()
    assert body["status"] == status
    assert body["detail"]
    return body


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    value = sample(text, name, **labels)
    return 0.0 if value is None else value


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus text exposition, None when there is none."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        metric_name, _, label_text = sample.partition("{")
        got = ",".join(sorted(label_text.rstrip("}").split(","))) if label_text else ""
        if metric_name == name and got == want:
            return float(value)
    return None


@pytest.fixture
def read_metric(client: httpx.AsyncClient) -> Callable[..., Any]:
    async def _read(name: str, **labels: str) -> float:
        text = (await client.get("/metrics")).text
        return metric(text, name, **labels)

    return _read
