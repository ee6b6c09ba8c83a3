"""Subscriptions: create (after checking every field), list, delete.

A subscription belongs to the API key that made it; `admin` keys see and delete all.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.db import utcnow
from api.errors import FieldError, InvalidRequest, NotFound
from api.settings import Scope
from api.webhooks.catalogue import ALL_EVENTS, EVENT_TYPES, SUBSCRIBABLE
from api.webhooks.models import SECRET_MAX, URL_MAX, DeliveryStatus, WebhookDeliveryRow, WebhookRow
from api.webhooks.schemas import WebhookCreateRequest, WebhookResponse

SECRET_MIN = 16  # 128 bits if random: no brute force of the HMAC key from signed bodies


def check(request: WebhookCreateRequest) -> list[FieldError]:
    """Every problem of the request, each naming its field."""
    errors = [FieldError("url", problem) for problem in _url_problems(request.url)]
    if not request.events:
        errors.append(FieldError("events", "at least one event type is required"))
    for i, event_type in enumerate(request.events):
        if event_type not in SUBSCRIBABLE:
            errors.append(
                FieldError(
                    f"events[{i}]",
                    f"unknown event type {event_type!r}; known: {sorted(EVENT_TYPES)}, "
                    f"or {ALL_EVENTS!r} for all",
                )
            )
    secret = request.secret.get_secret_value()
    if len(secret) < SECRET_MIN:
        errors.append(FieldError("secret", f"at least {SECRET_MIN} characters are required"))
    elif len(secret) > SECRET_MAX:
        errors.append(FieldError("secret", f"at most {SECRET_MAX} characters"))
    elif "\x00" in secret:
        errors.append(FieldError("secret", "must not contain a NUL character"))
    return errors


def _url_problems(url: str) -> list[str]:
    if len(url) > URL_MAX:
        return [f"at most {URL_MAX} characters"]
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return ["must not contain whitespace or control characters"]
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number or out of range)
    except ValueError as exc:
        return [f"not a URL: {exc}"]
    if parts.scheme.lower() not in ("http", "https"):
        return ["must be an http or https URL"]
    if not parts.hostname:
        return ["must name a host"]
    if parts.fragment:
        return ["must not have a fragment (it is never sent)"]
    return []


async def create(
    session: AsyncSession, request: WebhookCreateRequest, *, owner: Principal
) -> WebhookResponse:
    errors = check(request)
    if errors:
        raise InvalidRequest(errors)
    row = WebhookRow(
        webhook_id=str(uuid.uuid4()),
        owner=owner.id,
        url=request.url,
        events=list(dict.fromkeys(request.events)),  # repeats dropped, order kept
        secret=request.secret.get_secret_value(),
        created_at=utcnow(),
    )
    async with session.begin():
        session.add(row)
    return to_response(row)


async def list_visible(session: AsyncSession, *, caller: Principal) -> list[WebhookResponse]:
    query = select(WebhookRow).where(WebhookRow.deleted_at.is_(None)).order_by(WebhookRow.id)
    if Scope.ADMIN not in caller.scopes:
        query = query.where(WebhookRow.owner == caller.id)
    async with session.begin():
        return [to_response(row) for row in await session.scalars(query)]


async def delete(session: AsyncSession, webhook_id: str, *, caller: Principal) -> None:
    """Delete a subscription and cancel its pending deliveries. An attempt already in
    flight still lands; nothing is sent for it afterwards."""
    if "\x00" in webhook_id:  # no id holds one, and PostgreSQL refuses it in a query
        raise NotFound("webhook", webhook_id)
    async with session.begin():
        row = await session.scalar(
            select(WebhookRow)
            .where(WebhookRow.webhook_id == webhook_id, WebhookRow.deleted_at.is_(None))
            .with_for_update()
        )
        # Someone else's subscription is answered as missing: its id is not theirs to learn.
        if row is None or (Scope.ADMIN not in caller.scopes and row.owner != caller.id):
            raise NotFound("webhook", webhook_id)
        now = utcnow()
        row.deleted_at = now
        await session.execute(
            update(WebhookDeliveryRow)
            .where(
                WebhookDeliveryRow.webhook_pk == row.id,
                WebhookDeliveryRow.status == DeliveryStatus.PENDING.value,
            )
            .values(
                status=DeliveryStatus.CANCELLED.value, locked_until=None, lease=None, updated_at=now
            )
            .execution_options(synchronize_session=False)
        )


def to_response(row: WebhookRow) -> WebhookResponse:
    return WebhookResponse(
        webhook_id=row.webhook_id, url=row.url, events=row.events, created_at=row.created_at
    )
