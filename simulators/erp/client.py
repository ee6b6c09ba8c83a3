"""The ERP side of the HTTP API: pushing released orders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from simulators.common.config import load_site
from simulators.erp.orders import build_orders


class OrderPushError(Exception):
    """A push the API did not accept: its HTTP status and the problem+json detail."""

    def __init__(self, order_id: str, status: int, detail: str) -> None:
        super().__init__(f"order {order_id}: HTTP {status}: {detail}")
        self.order_id = order_id
        self.status = status
        self.detail = detail


def _detail(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return response.text or response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)
    return str(body)


async def push_orders(
    *, api_url: str, api_key: str, site_config: Path, count: int, seed: int = 1
) -> list[str]:
    """POST `count` random released orders to {api_url}/api/v1/orders (Authorization: Bearer
    api_key) and return their order ids. Raise with the problem+json detail on any non-2xx
    answer."""
    site = load_site(site_config)
    orders = build_orders(site, count=count, seed=seed)
    url = api_url.rstrip("/") + "/api/v1/orders"
    headers = {"Authorization": f"Bearer {api_key}"}
    ids = []
    async with httpx.AsyncClient(timeout=10.0) as client:
        for order in orders:
            response = await client.post(
                url, json=order, headers={**headers, "Idempotency-Key": order["order_id"]}
            )
            if not response.is_success:
                raise OrderPushError(order["order_id"], response.status_code, _detail(response))
            ids.append(order["order_id"])
    return ids
