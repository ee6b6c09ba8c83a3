"""The edge controller process: wires MQTT, the central API, the outbox and the site controller.

Four loops share one site controller; each handles its input synchronously in the
controller, then carries out the effects: reports are committed to the outbox before the
device commands that follow from the same decision are published.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import start_http_server

from controller.domain.layout import Site
from controller.domain.messages import Report
from controller.service.site_controller import Metric, Output, SiteController, UnknownDevice
from controller.siteconfig import load_site
from edge.central import EVENT_BATCH_MAX, CentralApi, CentralError, released_order
from edge.codecs.common import utc_timestamp
from edge.codecs.errors import PayloadError
from edge.inbound import dispatch
from edge.metrics import EdgeMetrics
from edge.mqtt.connection import MqttConnection, Publication
from edge.mqtt.topics import Kind, RouteTable, controller_status
from edge.outbound import Outbound, report_event
from edge.outbox import Outbox
from edge.settings import EdgeSettings

log = logging.getLogger(__name__)

SSCC_SERIAL_KEY = "sscc_serial"
WORK_CURSOR_KEY = "work_after"
CENTRAL_RETRY_MAX_S = 10.0


def utcnow() -> datetime:
    return datetime.now(UTC)


class EdgeRuntime:
    def __init__(
        self,
        settings: EdgeSettings,
        site: Site,
        controller: SiteController,
        outbox: Outbox,
        central: CentralApi,
        mqtt: MqttConnection,
        metrics: EdgeMetrics,
    ) -> None:
        self.settings = settings
        self.site = site
        self.controller = controller
        self.outbox = outbox
        self.central = central
        self.mqtt = mqtt
        self.metrics = metrics
        self.routes = RouteTable(site)
        self.outbound = Outbound(site)
        self._outbox_ready = asyncio.Event()
        self._malformed_logged: set[str] = set()

    # --- the loops -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until `stop` is set (or the task is cancelled), then shut down cleanly."""
        stop = stop or asyncio.Event()
        loops = [
            self._guarded("mqtt", lambda: self.mqtt.run(self.routes.routes, self.on_message)),
            self._guarded("work feed", self._pull_work),
            self._guarded("outbox", self._drain_outbox),
            self._guarded("tick", self._tick),
        ]
        tasks = [asyncio.create_task(loop) for loop in loops]
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper:
                    task.result()  # a loop that ended by itself raised: surface it
        finally:
            await self.mqtt.say_goodbye()
            for task in [*tasks, stopper]:
                task.cancel()
            await asyncio.gather(*tasks, stopper, return_exceptions=True)

    async def _guarded(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        try:
            await loop()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("edge loop %r failed", name)
            raise

    async def on_message(self, topic: str, payload: bytes) -> None:
        """Handle one MQTT message; never raises, so the receive loop never dies."""
        received = utcnow()
        route = self.routes.match(topic)
        if route is None:
            self.metrics.dropped.labels("unrouted", "unrouted").inc()
            return
        kind = route.kind.value
        self.metrics.messages_in.labels(kind).inc()
        try:
            outputs = dispatch(self.controller, self.site, route, payload, received)
        except PayloadError as exc:
            self._drop(kind, "malformed", topic, exc.reason)
            return
        except UnknownDevice as exc:
            self._drop(kind, "unknown_device", topic, str(exc))
            return
        except Exception as exc:
            log.exception("handling a message on %s failed", topic)
            self._drop(kind, "handler_error", topic, repr(exc))
            return
        await self.apply(outputs, received)
        if route.kind is Kind.SORTER and outputs:
            self.metrics.sorter_decision_seconds.observe((utcnow() - received).total_seconds())

    def _drop(self, kind: str, reason: str, topic: str, detail: str) -> None:
        self.metrics.dropped.labels(kind, reason).inc()
        if topic not in self._malformed_logged:  # once per topic: a flood must not flood the log
            self._malformed_logged.add(topic)
            log.warning("dropped a %s message on %s (%s): %s", kind, topic, reason, detail)

    async def _pull_work(self) -> None:
        after = int(await self.outbox.get(WORK_CURSOR_KEY) or 0)
        delay = self.settings.central.poll_interval_s
        while True:
            try:
                items, next_after = await self.central.fetch_work(after)
            except CentralError as exc:
                log.warning("work feed unavailable: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, CENTRAL_RETRY_MAX_S)
                continue
            delay = self.settings.central.poll_interval_s
            for item in items:
                outputs: list[Output] = []
                if item.get("type") == "order.released":
                    outputs = self.controller.release_order(released_order(item["order"]), utcnow())
                await self.apply(outputs, utcnow(), {WORK_CURSOR_KEY: str(item["seq"])})
            after = max(after, next_after)
            if not items:
                await asyncio.sleep(self.settings.central.poll_interval_s)

    async def _drain_outbox(self) -> None:
        delay = 0.5
        while True:
            batch = await self.outbox.pending(EVENT_BATCH_MAX)
            self.metrics.outbox_pending.set(len(batch))
            if not batch:
                self._outbox_ready.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._outbox_ready.wait(), timeout=1.0)
                continue
            try:
                results = await self.central.post_events([event.body for event in batch])
            except CentralError as exc:
                log.warning("central API unavailable, %d reports wait: %s", len(batch), exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, CENTRAL_RETRY_MAX_S)
                continue
            delay = 0.5
            for result in results:
                self.metrics.reports.labels(result.get("status", "unknown")).inc()
                if result.get("status") == "rejected":
                    log.warning("central API rejected %s: %s", result.get("event_id"), result)
            await self.outbox.mark_sent(event.row_id for event in batch)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.settings.tick_interval_s)
            now = utcnow()
            await self.apply(self.controller.tick(now), now)

    # --- effects ---------------------------------------------------------------------------

    async def apply(
        self, outputs: list[Output], now: datetime, values: dict[str, str] | None = None
    ) -> None:
        reports = [o for o in outputs if isinstance(o, Report)]
        values = dict(values or {})
        if reports:
            values[SSCC_SERIAL_KEY] = str(self.controller.next_sscc_serial)
        if reports or values:
            await self.outbox.add([report_event(r, now) for r in reports], values)
            self._outbox_ready.set()
        for output in outputs:
            if isinstance(output, Metric):
                self.metrics.count(output.name, output.label)
            elif not isinstance(output, Report):
                pub = self.outbound.publication(output, now)
                await self.mqtt.publish(pub)
                self.metrics.published.labels(type(output).__name__).inc()


def _status(site_id: str, state: str) -> bytes:
    return json.dumps({"state": state, "site": site_id, "ts": utc_timestamp(utcnow(), 3)}).encode()


async def bootstrap(settings: EdgeSettings) -> EdgeRuntime:
    """Build the edge from its settings: the one wiring point of the process."""
    site = load_site(settings.site_config)
    outbox = await Outbox.open(settings.db_path)
    serial = int(await outbox.get(SSCC_SERIAL_KEY) or 1)
    controller = SiteController(
        site,
        id_prefix=f"{site.site}-{secrets.token_hex(3)}",  # VDA orderIds never repeat across runs
        next_sscc_serial=serial,
        verify_window=timedelta(seconds=settings.verify_window_s),
    )
    status_topic = controller_status(site.site)
    mqtt = MqttConnection(
        host=settings.mqtt.host,
        port=settings.mqtt.port,
        client_id=settings.mqtt.client_id or f"edge-{site.site}",
        keepalive=settings.mqtt.keepalive_s,
        birth=Publication(status_topic, _status(site.site, "ONLINE"), qos=1, retain=True),
        will=Publication(status_topic, _status(site.site, "CONNECTIONBROKEN"), qos=1, retain=True),
        goodbye=Publication(status_topic, _status(site.site, "OFFLINE"), qos=1, retain=True),
    )
    central = CentralApi(
        settings.central.url, settings.central.api_key.get_secret_value(), site.site
    )
    return EdgeRuntime(settings, site, controller, outbox, central, mqtt, EdgeMetrics())


async def run_edge(settings: EdgeSettings, stop: asyncio.Event | None = None) -> None:
    runtime = await bootstrap(settings)
    server: Any = None
    if settings.metrics_port:
        server, _ = start_http_server(
            settings.metrics_port, addr="127.0.0.1", registry=runtime.metrics.registry
        )
    try:
        await runtime.run(stop)
    finally:
        if server is not None:
            server.shutdown()
        await runtime.central.close()
        await runtime.outbox.close()
