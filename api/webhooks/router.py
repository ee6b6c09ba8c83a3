"""`/api/v1/webhooks`: the ERP subscribes to the warehouse's events."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import ErpCaller, ReadSession, WriteSession
from api.errors import problem_responses
from api.webhooks import service
from api.webhooks.schemas import WebhookCreateRequest, WebhookList, WebhookResponse

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


@router.post("", status_code=201, response_model=WebhookResponse, responses=problem_responses())
async def create_webhook(
    caller: ErpCaller, body: WebhookCreateRequest, session: WriteSession
) -> WebhookResponse:
    """Subscribe `url` to `events`. Each event is POSTed as JSON
    `{"event_id", "type", "occurred_at", "data"}` with the headers `Webhook-Id` (the event
    id, the same on every retry: drop duplicates by it), `Webhook-Timestamp` (Unix seconds
    of this attempt) and `Webhook-Signature: sha256=<hex HMAC-SHA256 of
    "<Webhook-Timestamp>.<raw body>", keyed with the secret>`. Verify over the raw bytes,
    compare in constant time, and refuse timestamps far from your clock (replays).
    Any answer but a 2xx is retried with exponential back-off; redirects are not followed.
    """
    return await service.create(session, body, owner=caller)


@router.get("", response_model=WebhookList, responses=problem_responses())
async def list_webhooks(caller: ErpCaller, session: ReadSession) -> WebhookList:
    """This API key's subscriptions (an `admin` key's: everyone's), oldest first."""
    return WebhookList(items=await service.list_visible(session, caller=caller))


@router.delete(
    "/{webhook_id}", status_code=204, response_class=Response, responses=problem_responses(404)
)
async def delete_webhook(webhook_id: str, caller: ErpCaller, session: WriteSession) -> Response:
    """Unsubscribe; pending deliveries are cancelled."""
    await service.delete(session, webhook_id, caller=caller)
    return Response(status_code=204)
