"""ERP webhooks (DESIGN §5.1): subscriptions, an outbox filled in the business transaction,
and a worker that POSTs each event, signed and retried, to every subscription to it.

Report an event from inside the transaction of the change it describes:

    async with session.begin():
        ...  # the change
        await enqueue_webhook_event(
            session, "order.shipped", {"order_id": "SO-1"}, occurred_at=now
        )
"""

from api.webhooks.catalogue import ALL_EVENTS, EVENT_TYPES
from api.webhooks.outbox import enqueue_webhook_event

__all__ = ["ALL_EVENTS", "EVENT_TYPES", "enqueue_webhook_event"]
