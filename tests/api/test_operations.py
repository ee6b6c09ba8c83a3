"""Health, readiness, metrics and the API docs."""

from __future__ import annotations

import httpx

from tests.api.conftest import sample


async def test_health_and_readiness_answer(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    ready = await client.get("/readyz")

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def test_metrics_expose_the_order_and_event_counters(
    sqlite_client: httpx.AsyncClient,
) -> None:
    response = await sqlite_client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE warehouse_api_orders_total counter" in response.text
    assert "# TYPE warehouse_api_events_total counter" in response.text
    assert sample(response.text, "warehouse_api_orders_total", status="shipped") == 0.0


async def test_docs_and_openapi_are_served(sqlite_client: httpx.AsyncClient) -> None:
    docs = await sqlite_client.get("/docs")
    spec = (await sqlite_client.get("/openapi.json")).json()

    assert docs.status_code == 200
    assert {"/api/v1/orders", "/api/v1/stock/{sku}", "/api/v1/sites/{site}/events"} <= set(
        spec["paths"]
    )
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


async def test_an_unknown_route_is_a_404_problem(sqlite_client: httpx.AsyncClient) -> None:
    response = await sqlite_client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["instance"] == "/api/v1/nothing-here"
