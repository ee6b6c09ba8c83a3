"""API keys and scopes: 401 without a known key, 403 without the scope, admin everywhere."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import ADMIN, EDGE, ERP, OPS, SITE, assert_problem, order_body

ORDERS = ("POST", "/api/v1/orders")
ORDER = ("GET", "/api/v1/orders/SO-A1")
STOCK = ("GET", "/api/v1/stock/SKU-0001")
WORK = ("GET", f"/api/v1/sites/{SITE}/work")
EVENTS = ("POST", f"/api/v1/sites/{SITE}/events")


async def call(
    client: httpx.AsyncClient, route: tuple[str, str], headers: dict[str, str]
) -> httpx.Response:
    method, path = route
    body = (
        order_body("SO-A1", ("10", "SKU-0001", 1))
        if route == ORDERS
        else {"events": []}
        if route == EVENTS
        else None
    )
    return await client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("route", [ORDERS, ORDER, STOCK, WORK, EVENTS])
async def test_a_request_without_a_known_key_is_a_401_problem(
    sqlite_client: httpx.AsyncClient, route: tuple[str, str]
) -> None:
    missing = await call(sqlite_client, route, {})
    unknown = await call(sqlite_client, route, {"Authorization": "Bearer not-a-key"})
    wrong_scheme = await call(
        sqlite_client, route, {"Authorization": f"Basic {ERP['Authorization'][7:]}"}
    )

    for response in (missing, unknown, wrong_scheme):
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("route", "headers"),
    [(ORDERS, EDGE), (ORDERS, OPS), (ORDER, EDGE), (WORK, ERP), (EVENTS, ERP), (EVENTS, OPS)],
)
async def test_a_key_without_the_scope_is_a_403_problem(
    sqlite_client: httpx.AsyncClient, route: tuple[str, str], headers: dict[str, str]
) -> None:
    problem = assert_problem(await call(sqlite_client, route, headers), 403)
    assert "admin" in problem["detail"]


async def test_each_scope_reaches_its_routes_and_admin_reaches_all(
    sqlite_client: httpx.AsyncClient,
) -> None:
    allowed = [
        (ORDERS, ERP, 201),
        (ORDER, ERP, 200),
        (STOCK, ERP, 200),
        (STOCK, OPS, 200),
        (STOCK, EDGE, 200),
        (WORK, EDGE, 200),
        (EVENTS, EDGE, 200),
        (ORDERS, ADMIN, 200),  # the same order again: a retried push
        (ORDER, ADMIN, 200),
        (WORK, ADMIN, 200),
        (EVENTS, ADMIN, 200),
    ]
    for route, headers, status in allowed:
        response = await call(sqlite_client, route, headers)
        assert response.status_code == status, (route, headers, response.text)
