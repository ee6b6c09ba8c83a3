"""The central API as the edge sees it: the work feed it pulls and the event ingest it pushes to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from controller.domain.messages import Allocation, ReleasedLine, ReleasedOrder

EVENT_BATCH_MAX = 500  # the ingest endpoint's limit (docs/protocols.md)


class CentralError(Exception):
    """The central API could not be reached or refused a request."""


class CentralApi:
    def __init__(self, base_url: str, api_key: str, site_id: str, timeout_s: float = 10.0) -> None:
        self.site_id = site_id
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout_s,
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def fetch_work(self, after: int, limit: int = 100) -> tuple[list[dict[str, Any]], int]:
        body = await self._call(
            "GET", f"/api/v1/sites/{self.site_id}/work", params={"after": after, "limit": limit}
        )
        return list(body["items"]), int(body["next_after"])

    async def post_events(self, events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        body = await self._call(
            "POST", f"/api/v1/sites/{self.site_id}/events", json={"events": list(events)}
        )
        return list(body["results"])

    async def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise CentralError(f"{method} {url}: {exc!r}") from exc
        if response.status_code >= 400:
            raise CentralError(f"{method} {url}: {response.status_code} {response.text[:300]}")
        result: dict[str, Any] = response.json()
        return result


def released_order(order: dict[str, Any]) -> ReleasedOrder:
    """A work feed `order` object as the controller's type."""
    return ReleasedOrder(
        order_id=order["order_id"],
        priority=int(order.get("priority") or 0),
        carrier=order.get("carrier") or "",
        lines=tuple(
            ReleasedLine(
                line_id=line["line_id"],
                sku=line["sku"],
                gtin=line["gtin"],
                qty=int(line["qty"]),
                allocations=tuple(
                    Allocation(a["bin"], a["tote_id"], int(a["qty"])) for a in line["allocations"]
                ),
            )
            for line in order["lines"]
        ),
    )
