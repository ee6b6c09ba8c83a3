"""The edge controller process: wires MQTT, the central API, the outbox and the site controller.

Four loops share one site controller; each handles its input synchronously in the
controller, then carries out the effects: reports are committed to the outbox before the
device commands that follow from the same decision are handed to the MQTT connection, which
sends them at least once. No single input, work item or failure of a neighbour ends a loop:
what cannot be handled is logged, counted and skipped, and a loop that fails unexpectedly
backs off and carries on. Only a broker refusing our credentials ends the process.
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

from controller.domain.errors import WarehouseError
from controller.domain.layout import Site
from controller.domain.messages import Report
from controller.service.site_controller import (
    Metric,
    Notice,
    Output,
    SiteController,
    UnknownDevice,
)
from controller.siteconfig import load_site
from controller.vda5050.events import MessageIgnored, Publish
from edge.central import (
    EVENT_BATCH_MAX,
    CentralApi,
    CentralError,
    MalformedWork,
    cancelled_order_id,
    putback_request,
    released_order,
    work_seq,
)
from edge.codecs.common import utc_timestamp
from edge.codecs.errors import PayloadError
from edge.fleet import FleetReporter
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
LOOP_RETRY_MAX_S = 10.0  # longest pause of a loop that keeps failing unexpectedly
OUTBOX_IDLE_POLL_S = 1.0  # an idle outbox sender looks again after this, woken or not
FLEET_TICK_SHARE = 0.25  # of the loop's time the fleet's ticks may take (site controller)
ORDER_RELEASED = "order.released"
ORDER_CANCEL = "order.cancel"
PUTBACK_REQUESTED = "putback.requested"

WorkHandler = Callable[[SiteController, dict[str, Any], datetime], list[Output]]
# The work feed's item types (docs/protocols.md, "Work feed"): how each reaches the controller.
# The readers raise MalformedWork for an item without the documented shape.
WORK_HANDLERS: dict[str, WorkHandler] = {
    ORDER_RELEASED: lambda ctl, item, now: ctl.release_order(
        released_order(item.get("order")), now
    ),
    ORDER_CANCEL: lambda ctl, item, now: ctl.cancel_order(cancelled_order_id(item), now),
    PUTBACK_REQUESTED: lambda ctl, item, now: ctl.request_putback(
        putback_request(item.get("putback")), now
    ),
}


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
        mqtt = asyncio.create_task(
            self._guarded("mqtt", lambda: self.mqtt.run(self.routes.routes, self.on_message))
        )
        producers = [
            asyncio.create_task(self._guarded("work feed", self._pull_work)),
            asyncio.create_task(self._guarded("tick", self._tick)),
            asyncio.create_task(self._guarded("fleet", self._report_fleet)),
        ]
        outbox = asyncio.create_task(self._guarded("outbox", self._drain_outbox))
        stopper = asyncio.create_task(stop.wait())
        tasks = [mqtt, *producers, outbox]
        try:
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper:
                    task.result()  # a loop that ended by itself (NotAuthorized): surface it
        finally:
            await _cancel(producers)  # nothing new after the goodbye
            await self.mqtt.say_goodbye()
            await _cancel([mqtt, outbox, stopper])

    async def _guarded(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """Log how a loop ended; the loops carry on through errors, so only a fatal one
        (NotAuthorized) or a bug outside their guard gets here."""
        try:
            await loop()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("edge loop %r failed", name)
            raise
        log.error("edge loop %r ended", name)

    def _loop_failed(self, loop: str) -> None:
        """Call from an `except` block: log the traceback and count it."""
        log.exception("edge loop %r failed; carrying on", loop)
        self.metrics.loop_errors.labels(loop).inc()

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
            sent = await self.apply(outputs, received)
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
        if route.kind is Kind.SORTER:
            for future in sent:  # observed when the broker has the divert
                future.add_done_callback(lambda f: self._observe_decision(f, received))

    def _observe_decision(self, sent: asyncio.Future[None], received: datetime) -> None:
        if not sent.cancelled():
            self.metrics.sorter_decision_seconds.observe((utcnow() - received).total_seconds())

    def _drop(self, kind: str, reason: str, topic: str, detail: str) -> None:
        self.metrics.dropped.labels(kind, reason).inc()
        if topic not in self._malformed_logged:  # once per topic: a flood must not flood the log
            self._malformed_logged.add(topic)
            log.warning("dropped a %s message on %s (%s): %s", kind, topic, reason, detail)

    async def _pull_work(self) -> None:
        poll = self.settings.central.poll_interval_s
        after: int | None = None
        delay, failures = poll, 0
        while True:
            try:
                if after is None:
                    after = int(await self.outbox.get(WORK_CURSOR_KEY) or 0)
                items, next_after = await self.central.fetch_work(after)
                for item in items:
                    after = await self._take_work(item, after)
                if next_after > after:  # past items we could not read a seq from
                    await self.apply([], utcnow(), {WORK_CURSOR_KEY: str(next_after)})
                    after = next_after
            except CentralError as exc:
                log.warning("work feed unavailable: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, CENTRAL_RETRY_MAX_S)
                continue
            except Exception:
                # Not a bad item (those are skipped): a fault of ours. Retry from the
                # cursor, which has not passed the item that failed.
                self._loop_failed("work feed")
                failures += 1
                await asyncio.sleep(_backoff(poll, failures))
                continue
            delay, failures = poll, 0
            if not items:
                await asyncio.sleep(poll)

    async def _take_work(self, item: object, after: int) -> int:
        """Hand one work item to the controller and persist the cursor past it; returns the
        new cursor. An item that cannot be read or that the controller refuses is logged,
        counted and skipped: a poison item must not hold up the feed, or end the process
        after every restart."""
        seq = work_seq(item)
        if seq is not None and seq <= after:
            return after  # seen before (docs/protocols.md: a repeated seq is already done)
        outputs: list[Output] = []
        kind = item.get("type") if isinstance(item, dict) else None
        handle = WORK_HANDLERS.get(kind) if isinstance(kind, str) else None
        if handle is None:
            self._skip_work("unknown_type", item, f"type {kind!r}")
        elif seq is None:
            self._skip_work("malformed", item, "no integer seq")
        else:
            assert isinstance(item, dict)  # it has a type
            try:
                outputs = handle(self.controller, item, utcnow())
            except MalformedWork as exc:
                self._skip_work("malformed", item, str(exc))
            except WarehouseError as exc:
                self._skip_work("refused", item, str(exc))
        if seq is None:
            return after
        await self.apply(outputs, utcnow(), {WORK_CURSOR_KEY: str(seq)})
        return seq

    def _skip_work(self, reason: str, item: object, detail: str) -> None:
        self.metrics.work_skipped.labels(reason).inc()
        level = logging.WARNING if reason == "unknown_type" else logging.ERROR  # work lost
        log.log(level, "skipped a work feed item (%s): %s; item: %.500r", reason, detail, item)

    async def _drain_outbox(self) -> None:
        delay, failures = 0.5, 0
        while True:
            # Cleared before reading: a report committed after the read sets it again, so
            # the wait below cannot miss it.
            self._outbox_ready.clear()
            try:
                batch = await self.outbox.pending(EVENT_BATCH_MAX)
                self.metrics.outbox_pending.set(len(batch))
                if not batch:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._outbox_ready.wait(), OUTBOX_IDLE_POLL_S)
                    continue
                results = await self.central.post_events([event.body for event in batch])
                for result in results:
                    self.metrics.reports.labels(str(result.get("status", "unknown"))).inc()
                    if result.get("status") == "rejected":
                        log.warning("central API rejected %s: %s", result.get("event_id"), result)
                await self.outbox.mark_sent(event.row_id for event in batch)
            except CentralError as exc:
                log.warning("central API unavailable, reports wait: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, CENTRAL_RETRY_MAX_S)
                continue
            except Exception:
                self._loop_failed("outbox")
                failures += 1
                await asyncio.sleep(_backoff(0.5, failures))
                continue
            delay, failures = 0.5, 0

    async def _report_fleet(self) -> None:
        reporter = FleetReporter()
        while True:
            await asyncio.sleep(self.settings.central.fleet_interval_s)
            now = utcnow()
            try:
                due = reporter.due(self.controller.agvs.values(), now)
                if due:
                    await self.central.put_fleet(due)
                    reporter.sent(due, now)
            except CentralError as exc:
                log.warning("central API unavailable, fleet status waits: %s", exc)
            except Exception:
                self._loop_failed("fleet")

    async def _tick(self) -> None:
        interval = self.settings.tick_interval_s
        failures = 0
        while True:
            await asyncio.sleep(_backoff(interval, failures))
            try:
                now = utcnow()
                await self.apply(self.controller.tick(now), now)
            except Exception:
                self._loop_failed("tick")
                failures += 1
            else:
                failures = 0

    # --- effects ---------------------------------------------------------------------------

    async def apply(
        self, outputs: list[Output], now: datetime, values: dict[str, str] | None = None
    ) -> list[asyncio.Future[None]]:
        """Commit the reports (and `values`) to the outbox, then hand the device commands to
        the MQTT connection; returns a future per command, done once the broker has it."""
        reports = [o for o in outputs if isinstance(o, Report)]
        values = dict(values or {})
        if reports:
            values[SSCC_SERIAL_KEY] = str(self.controller.next_sscc_serial)
        if reports or values:
            await self.outbox.add([report_event(r, now) for r in reports], values)
            self._outbox_ready.set()
        sent: list[asyncio.Future[None]] = []
        for output in outputs:
            if isinstance(output, Metric):
                self.metrics.count(output.name, output.label)
            elif isinstance(output, Notice):
                log.warning("%s", output.text)
            elif isinstance(output, MessageIgnored):
                log.warning(
                    "AGV %s: %s ignored: %s", output.serial_number, output.topic, output.reason
                )
            elif not isinstance(output, Report):
                pub = self.outbound.publication(output, now)
                sent.append(await self.mqtt.publish(pub))
                kind = output.topic.value if isinstance(output, Publish) else type(output).__name__
                self.metrics.published.labels(kind).inc()
        return sent


def _backoff(base_s: float, failures: int) -> float:
    return float(min(base_s * 2**failures, max(base_s, LOOP_RETRY_MAX_S)))


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _status(site_id: str, state: str) -> Callable[[], Publication]:
    """The controller status message, stamped when it is built (so: when it is sent)."""
    topic = controller_status(site_id)

    def build() -> Publication:
        body = {"state": state, "site": site_id, "ts": utc_timestamp(utcnow(), 3)}
        return Publication(topic, json.dumps(body).encode(), qos=1, retain=True)

    return build


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
        # The fleet's tick (every AGV planned) on every AGV state while that costs at most
        # this share of the loop's time; less often for a large fleet.
        fleet_tick_share=FLEET_TICK_SHARE,
    )
    mqtt = MqttConnection(
        host=settings.mqtt.host,
        port=settings.mqtt.port,
        client_id=settings.mqtt.client_id or f"edge-{site.site}",  # stable: the session's key
        keepalive=settings.mqtt.keepalive_s,
        birth=_status(site.site, "ONLINE"),
        will=_status(site.site, "CONNECTIONBROKEN"),
        goodbye=_status(site.site, "OFFLINE"),
        persistent_session=settings.mqtt.persistent_session,
        outgoing_max=settings.mqtt.outgoing_max,
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
