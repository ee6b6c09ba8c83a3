"""The edge's Prometheus metrics, in a registry of its own per runtime."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# What the site controller counts (controller Metric names), with what their label means.
CONTROLLER_COUNTERS = {
    "agv_trips": ("AGV transport trips completed (tote dropped)", "kind"),
    "agv_connection": ("AGV connection state changes received", "state"),
    "task_failed": ("transport tasks failed", "reason"),
    "task_requeued": ("transport tasks queued again after their AGV did not finish", "reason"),
    "agv_orders": ("VDA 5050 orders by what became of them", "outcome"),
    "agv_incidents": ("VDA 5050 incidents raised by the master control", "kind"),
    "agv_messages_ignored": ("AGV messages not processed (stale or naming another AGV)", "topic"),
    "parcels_sorted": ("parcels diverted into their carrier's chute", "chute"),
    "parcels_shipped": ("parcels shipped by a truck departure", "door"),
    "parcels_rejected": ("parcels rejected, lost or sent to the reject chute", "event"),
    "parcels_wrong_door": ("parcels read at a dock door that does not serve their carrier", "door"),
    "parcels_not_loadable": (
        "parcels read at a door before being sorted, or of a failed order",
        "door",
    ),
    "agv_off_map": ("AGV states naming a node that is not on the site map", "agv"),
    "traffic_violations": (
        "what the reservation kernel's checks found (deadlocks, stalls, conflicts)",
        "kind",
    ),
    "parcels_diverted_unknown": ("diverts confirmed for parcels we do not know", "chute"),
    "cartons_verified": ("closed cartons judged by RFID", "verdict"),
    "tag_reads_ignored": ("RFID reads ignored", "reason"),
    "exceptions": ("orders that ended in an exception", "reason"),
    "duplicate_confirmation": ("repeated device confirmations ignored", "event"),
    "duplicate_work": ("work feed items seen before", "kind"),
    "cancels": ("order cancels handled, by outcome", "outcome"),
    "amendments": ("higher versions of orders held, by outcome", "outcome"),
    "put_backs": ("put-back lines, by what became of them", "outcome"),
    "cancelled_order_messages": ("device messages about orders cancelled meanwhile", "event"),
    "unknown_reference": ("device messages naming an unknown task or order", "what"),
}


class EdgeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages_in = Counter(
            "warehouse_edge_mqtt_messages",
            "MQTT messages received, by topic kind",
            ["kind"],
            registry=self.registry,
        )
        self.dropped = Counter(
            "warehouse_edge_mqtt_dropped",
            "MQTT messages dropped, by topic kind and reason",
            ["kind", "reason"],
            registry=self.registry,
        )
        self.published = Counter(
            "warehouse_edge_mqtt_published",
            "MQTT messages published, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.reports = Counter(
            "warehouse_edge_reports",
            "reports delivered to the central API, by result",
            ["result"],
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "warehouse_edge_outbox_pending",
            "reports waiting in the outbox",
            registry=self.registry,
        )
        self.loop_errors = Counter(
            "warehouse_edge_loop_errors",
            "unexpected exceptions caught in an edge loop, which carried on (see the log)",
            ["loop"],
            registry=self.registry,
        )
        self.work_skipped = Counter(
            "warehouse_edge_work_skipped",
            "work feed items skipped, by reason (malformed, refused, unknown_type)",
            ["reason"],
            registry=self.registry,
        )
        self.sorter_decision_seconds = Histogram(
            "warehouse_edge_sorter_decision_seconds",
            "time from receiving a sorter scan to publishing its divert",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
            registry=self.registry,
        )
        self.controller = {
            name: Counter(f"warehouse_edge_{name}", doc, [label], registry=self.registry)
            for name, (doc, label) in CONTROLLER_COUNTERS.items()
        }

    def count(self, name: str, label: str) -> None:
        self.controller[name].labels(label).inc()
