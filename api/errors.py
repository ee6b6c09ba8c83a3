"""The one place where errors become HTTP answers: RFC 9457 `application/problem+json`.

Every answer has `type`, `title`, `status`, `detail` and `instance` (the request path);
422s add `errors`, one entry per failing field, and name those fields in `detail`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from controller.domain.errors import InvalidQuantity, InvalidTransition, WarehouseError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# Problem types are URI references under one base; they name the kind of problem.
PROBLEM_BASE = "/problems/"


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str  # dotted path in the request part, e.g. `lines[1].qty`
    message: str
    location: str = "body"  # body | query | path | header
    type: str = "invalid"


class ProblemFieldError(BaseModel):
    field: str
    location: str
    message: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details (for the OpenAPI document)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[ProblemFieldError] | None = None


class ApiProblem(Exception):
    """An answer other than success, raised anywhere below a route."""

    status = 500
    slug = "internal-error"
    title = "Internal error"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}

    def extra(self) -> dict[str, Any]:
        return {}


class NotFound(ApiProblem):
    status = 404
    slug = "not-found"
    title = "Not found"

    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"no {what} {ident!r}")
        self.what = what
        self.ident = ident


class OrderConflict(ApiProblem):
    status = 409
    slug = "order-conflict"
    title = "Order exists with a different body"

    def __init__(self, order_id: str) -> None:
        super().__init__(
            f"order {order_id!r} was already pushed with a different body; "
            "a retried push must repeat the original body exactly"
        )
        self.order_id = order_id


class OrderCancelled(ApiProblem):
    status = 409
    slug = "order-cancelled"
    title = "Order cancelled"

    def __init__(self, order_id: str, status: str) -> None:
        super().__init__(
            f"order {order_id!r} is {status}: a push for it (a late create or a retry) "
            "is refused; use a new order id"
        )
        self.order_id = order_id


class StaleOrderVersion(ApiProblem):
    status = 409
    slug = "stale-order-version"
    title = "Order version is older than the stored one"

    def __init__(self, order_id: str, pushed: int, stored: int) -> None:
        super().__init__(
            f"order {order_id!r} is at version {stored}; version {pushed} is stale "
            "(an amendment needs a higher version)"
        )
        self.order_id = order_id
        self.stored = stored

    def extra(self) -> dict[str, Any]:
        return {"current_version": self.stored}


class AmendmentRefused(ApiProblem):
    status = 409
    slug = "amendment-refused"
    title = "Order can no longer be amended"

    def __init__(self, order_id: str, reason: str) -> None:
        super().__init__(f"order {order_id!r} cannot be amended: {reason}")
        self.order_id = order_id


class CancelRefused(ApiProblem):
    status = 409
    slug = "cancel-refused"
    title = "Order can no longer be cancelled"

    def __init__(self, order_id: str, reason: str) -> None:
        super().__init__(f"order {order_id!r} cannot be cancelled: {reason}")
        self.order_id = order_id


class DocumentConflict(ApiProblem):
    status = 409
    slug = "document-conflict"
    title = "Document id reused with a different body"

    def __init__(self, kind: str, document_id: str) -> None:
        super().__init__(
            f"{kind} {document_id!r} was already posted with a different body; "
            "a retry must repeat the original body exactly"
        )


class BinConflict(ApiProblem):
    """Receipt lines a bin cannot take as it stands: it holds stock of another SKU, lot or
    tote (a bin holds one tote of one SKU and lot; it changes only once empty)."""

    status = 409
    slug = "bin-conflict"
    title = "Bin holds other stock"

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))

    def extra(self) -> dict[str, Any]:
        return {"errors": [_field_error(e) for e in self.errors]}


class IdempotencyKeyReused(ApiProblem):
    """IETF draft-ietf-httpapi-idempotency-key-header: same key, other payload → 422."""

    status = 422
    slug = "idempotency-key-reused"
    title = "Idempotency-Key reused with a different body"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used for a request with a different body"
        )
        self.key = key


class Unauthenticated(ApiProblem):
    status = 401
    slug = "unauthenticated"
    title = "Unauthenticated"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiProblem):
    status = 403
    slug = "forbidden"
    title = "Forbidden"

    def __init__(self, needed: Iterable[str]) -> None:
        self.needed = sorted(needed)
        super().__init__(f"this API key lacks the scope for this; one of {self.needed} is needed")


class Unavailable(ApiProblem):
    status = 503
    slug = "unavailable"
    title = "Service unavailable"


class InvalidRequest(ApiProblem):
    status = 422
    slug = "validation-error"
    title = "Invalid request"

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__(
            "invalid request: " + "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        )

    def extra(self) -> dict[str, Any]:
        return {"errors": [_field_error(e) for e in self.errors]}


def _field_error(e: FieldError) -> dict[str, str]:
    return {"field": e.field, "location": e.location, "message": e.message, "type": e.type}


def field_path(loc: Iterable[int | str]) -> str:
    """`("lines", 1, "qty")` → `lines[1].qty`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str | None,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **(extra or {}),
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _from_api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        headers=exc.headers,
        extra=exc.extra(),
    )


def _from_domain(request: Request, exc: WarehouseError) -> JSONResponse:
    if isinstance(exc, InvalidTransition):
        return problem_response(
            request,
            status=409,
            slug="invalid-transition",
            title="Invalid status transition",
            detail=str(exc),
            extra={"current": exc.current, "requested": exc.requested},
        )
    if isinstance(exc, InvalidQuantity):
        return problem_response(
            request, status=422, slug="invalid-quantity", title="Invalid quantity", detail=str(exc)
        )
    log.error("unmapped domain error", exc_info=exc)
    return problem_response(
        request, status=500, slug="internal-error", title="Internal error", detail=str(exc)
    )


def _from_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        location = str(loc[0]) if loc else "body"
        path = loc[1:] if loc and loc[0] in {"body", "query", "path", "header", "cookie"} else loc
        errors.append(
            FieldError(
                field=field_path(path) if path else f"({location})",
                message=str(err.get("msg", "invalid")),
                location=location,
                type=str(err.get("type", "invalid")),
            )
        )
    return _from_api_problem(request, InvalidRequest(errors))


def _from_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    from http import HTTPStatus

    try:
        title = HTTPStatus(exc.status_code).phrase
    except ValueError:
        title = "Error"
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem_response(
        request,
        status=exc.status_code,
        slug=None,
        title=title,
        detail=detail,
        headers=dict(exc.headers or {}),
    )


def _from_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        request,
        status=500,
        slug="internal-error",
        title="Internal error",
        detail="an unexpected error occurred; it has been logged",
    )


def install_error_handlers(app: FastAPI) -> None:
    # Starlette calls these with the concrete exception; the casts are only for the type checker.
    app.add_exception_handler(ApiProblem, _from_api_problem)  # type: ignore[arg-type]
    app.add_exception_handler(WarehouseError, _from_domain)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _from_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _from_http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _from_unexpected)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": text}
    for status, text in [
        (401, "Missing or unknown API key"),
        (403, "The API key lacks the scope"),
        (422, "Invalid request; `errors` lists the failing fields"),
    ]
}


def problem_responses(
    *statuses: int, described: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the given problem statuses (plus 401/403/422), and
    for those of `described`, with their description."""
    out = dict(PROBLEM_RESPONSES)
    for status in statuses:
        out[status] = {"model": Problem, "content": {PROBLEM_JSON: {}}}
    for status, text in (described or {}).items():
        out[status] = {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": text}
    return out
