"""Wire models of the webhooks feature (DESIGN §5.1), snake_case JSON."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from api.webhooks.catalogue import ALL_EVENTS, EVENT_TYPES


class WebhookCreateRequest(BaseModel):
    """A subscription. Types only here; what the values must be is checked in
    `api.webhooks.service`, which names every failing field at once."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://erp.example.com/hooks/warehouse",
                    "events": ["order.shipped", "order.cancelled"],
                    "secret": "a-long-random-shared-secret",
                }
            ]
        }
    )

    url: str = Field(description="Where deliveries are POSTed: an http(s) URL")
    events: list[str] = Field(
        description=f"Event types: any of {sorted(EVENT_TYPES)}, or {ALL_EVENTS!r} for all"
    )
    secret: SecretStr = Field(
        description="Keys each delivery's HMAC-SHA256; 16 characters or more; never shown"
    )


class WebhookResponse(BaseModel):
    webhook_id: str
    url: str
    events: list[str]
    created_at: datetime


class WebhookList(BaseModel):
    items: list[WebhookResponse]
