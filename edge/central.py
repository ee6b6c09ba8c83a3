"""The central API as the edge sees it: the work feed it pulls and the event ingest it pushes to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeGuard

import httpx

from controller.domain.messages import (
    Allocation,
    PutBackLine,
    PutBackRequest,
    ReleasedLine,
    ReleasedOrder,
)

EVENT_BATCH_MAX = 500  # the ingest endpoint's limit (docs/protocols.md)


class CentralError(Exception):
    """The central API could not be reached, refused a request, or answered nonsense."""


class MalformedWork(Exception):
    """A work feed item that does not have the documented shape (docs/protocols.md)."""


class CentralApi:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        site_id: str,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.site_id = site_id
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout_s,
            transport=transport,
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def fetch_work(self, after: int, limit: int = 100) -> tuple[list[Any], int]:
        """The work items after `after` (each still to be checked: see `released_order`) and
        the cursor to ask with next."""
        url = f"/api/v1/sites/{self.site_id}/work"
        body = await self._call("GET", url, params={"after": after, "limit": limit})
        items, next_after = body.get("items"), body.get("next_after")
        if not isinstance(items, list) or not _is_int(next_after):
            raise CentralError(f"GET {url}: not a work page: {_excerpt(body)}")
        return items, next_after

    async def post_events(self, events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        url = f"/api/v1/sites/{self.site_id}/events"
        body = await self._call("POST", url, json={"events": list(events)})
        results = body.get("results")
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise CentralError(f"POST {url}: not an ingest answer: {_excerpt(body)}")
        return results

    async def put_fleet(self, snapshots: Sequence[dict[str, Any]]) -> None:
        """The newest snapshot of each AGV (edge/fleet.py); late ones the API ignores."""
        await self._call(
            "PUT", f"/api/v1/sites/{self.site_id}/agvs", json={"agvs": list(snapshots)}
        )

    async def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise CentralError(f"{method} {url}: {exc!r}") from exc
        if response.status_code >= 400:
            raise CentralError(f"{method} {url}: {response.status_code} {response.text[:300]}")
        try:
            body = response.json()
        except ValueError as exc:  # not JSON (json.JSONDecodeError and UnicodeDecodeError)
            raise CentralError(
                f"{method} {url}: {response.status_code} answer is not JSON: "
                f"{response.text[:300]!r}"
            ) from exc
        if not isinstance(body, dict):
            raise CentralError(f"{method} {url}: answer is not a JSON object: {_excerpt(body)}")
        return body


def work_seq(item: object) -> int | None:
    """A work item's `seq`, or None if it has none that can be used."""
    seq = item.get("seq") if isinstance(item, dict) else None
    return seq if _is_int(seq) else None


def released_order(order: object) -> ReleasedOrder:
    """A work feed `order` object as the controller's type; MalformedWork if it is not one."""
    try:
        version = _field(order, "version")
        if version is None:
            version = 1  # docs/protocols.md: absent means 1
        elif not _is_int(version) or version < 1:
            raise ValueError(f"version: expected an integer >= 1, got {version!r}")
        return ReleasedOrder(
            version=version,
            order_id=_text(order, "order_id"),
            priority=int(_field(order, "priority") or 0),
            carrier=str(_field(order, "carrier") or ""),
            lines=tuple(
                ReleasedLine(
                    line_id=_text(line, "line_id"),
                    sku=_text(line, "sku"),
                    gtin=_text(line, "gtin"),
                    qty=_int(line, "qty"),
                    allocations=tuple(
                        Allocation(_text(a, "bin"), _text(a, "tote_id"), _int(a, "qty"))
                        for a in _list(line, "allocations")
                    ),
                )
                for line in _list(order, "lines")
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedWork(f"not an order: {exc}") from exc


def cancelled_order_id(item: object) -> str:
    """The `order_id` of an `order.cancel` work item; MalformedWork if it has none."""
    try:
        return _text(item, "order_id")
    except (TypeError, ValueError) as exc:
        raise MalformedWork(f"not an order cancel: {exc}") from exc


def putback_request(putback: object) -> PutBackRequest:
    """A work feed `putback` object as the controller's type; MalformedWork if it is not one."""
    try:
        lines = _list(putback, "lines")
        if not lines:
            raise ValueError("lines: expected at least one line")
        return PutBackRequest(
            putback_id=_text(putback, "putback_id"),
            order_id=_text(putback, "order_id"),
            lines=tuple(
                PutBackLine(
                    line_id=_text(line, "line_id"),
                    sku=_text(line, "sku"),
                    gtin=_text(line, "gtin"),
                    bin=_text(line, "bin"),
                    tote_id=_text(line, "tote_id"),
                    qty=_int(line, "qty"),
                )
                for line in lines
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedWork(f"not a put-back: {exc}") from exc


def _field(obj: object, key: str) -> Any:
    if not isinstance(obj, dict):
        raise TypeError(f"expected an object holding {key!r}, got {type(obj).__name__}")
    return obj.get(key)


def _text(obj: object, key: str) -> str:
    value = _field(obj, key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key}: expected a non-empty string, got {value!r}")
    return value


def _int(obj: object, key: str) -> int:
    value = _field(obj, key)
    if not _is_int(value):
        raise ValueError(f"{key}: expected an integer, got {value!r}")
    return int(value)


def _list(obj: object, key: str) -> list[Any]:
    value = _field(obj, key)
    if not isinstance(value, list):
        raise ValueError(f"{key}: expected a list, got {value!r}")
    return value


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _excerpt(value: object) -> str:
    return repr(value)[:300]
