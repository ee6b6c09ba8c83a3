"""Prometheus metrics of one app instance, in a registry of its own (no global state)."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from api.sites.schemas import EventType
from api.stock.signals import StockSignals
from controller.domain.orders import OrderStatus

CONTENT_TYPE = CONTENT_TYPE_LATEST
KNOWN_EVENT_TYPES = frozenset(t.value for t in EventType)
WEBHOOK_RESULTS = ("delivered", "retried", "failed")
# From one second (a healthy receiver) to the back-off's hours (an ERP outage).
WEBHOOK_LATENCY_BUCKETS = (0.1, 0.5, 1, 5, 30, 60, 300, 900, 3600, 4 * 3600, 12 * 3600)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.orders = Counter(
            "warehouse_api_orders",
            "Orders entering a status (each order counts once per status it enters).",
            ["status"],
            registry=self.registry,
        )
        self.events = Counter(
            "warehouse_api_events",
            "Edge events ingested, by type and result (accepted, duplicate, rejected).",
            ["type", "result"],
            registry=self.registry,
        )
        self.stock_low = Counter(
            "warehouse_api_stock_low",
            "Times a SKU's available stock at a site fell below its safety stock.",
            ["site"],
            registry=self.registry,
        )
        self.stock_shortages = Counter(
            "warehouse_api_stock_shortages",
            "Counts that left a bin holding less than was reserved from it.",
            ["site"],
            registry=self.registry,
        )
        self.webhook_deliveries = Counter(
            "warehouse_api_webhook_deliveries",
            "Webhook delivery attempts by result: delivered (2xx), retried (failed, another "
            "attempt scheduled), failed (the last attempt failed too).",
            ["result"],
            registry=self.registry,
        )
        self.webhook_latency = Histogram(
            "warehouse_api_webhook_delivery_latency_seconds",
            "From an event's enqueue to its delivery (a 2xx), retries included.",
            buckets=WEBHOOK_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.webhook_attempt = Histogram(
            "warehouse_api_webhook_attempt_seconds",
            "One delivery attempt's HTTP request, whatever its result.",
            registry=self.registry,
        )
        for status in OrderStatus:
            self.orders.labels(status=status.value)
        for result in WEBHOOK_RESULTS:
            self.webhook_deliveries.labels(result=result)

    def order_entered(self, status: OrderStatus) -> None:
        self.orders.labels(status=status.value).inc()

    def event_ingested(self, event_type: str, result: str) -> None:
        # Unknown types share one label value: a sender's typos must not grow the series.
        label = event_type if event_type in KNOWN_EVENT_TYPES else "unknown"
        self.events.labels(type=label, result=result).inc()

    def stock_signals(self, signals: StockSignals) -> None:
        for low in signals.low:
            self.stock_low.labels(site=low.site).inc()
        for shortage in signals.shortages:
            self.stock_shortages.labels(site=shortage.site).inc()

    def webhook_attempted(self, result: str, seconds: float) -> None:
        self.webhook_deliveries.labels(result=result).inc()
        self.webhook_attempt.observe(seconds)

    def webhook_delivered_after(self, seconds: float) -> None:
        self.webhook_latency.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
