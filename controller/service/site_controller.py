"""The site controller: one site's real-time decisions, as a pure state machine.

Every input is a typed fact (a released, amended or cancelled order, a put-back request, an
AGV state, a station confirmation, tag reads, a sorter or dock event) with the time it is
handled (`now`); every output is a list of effects: device commands for the edge to publish
and reports for it to queue to the central API, plus metrics to count and notices to log.
Nothing here touches a socket, a database or the clock.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from controller.domain.epc import Sgtin, Sscc, decode_epc
from controller.domain.errors import InvalidEpc, WarehouseError
from controller.domain.fleet import Agv
from controller.domain.gs1 import make_sscc, sscc_from_barcode
from controller.domain.layout import Site
from controller.domain.messages import (
    ActionStatus,
    AgvState,
    ConnectionState,
    Effect,
    PutBackRequest,
    ReleasedOrder,
    Report,
    ReportType,
    SorterDivert,
    StationCancel,
    StationCloseCarton,
    StationLabel,
    StationPick,
    StationPutBack,
    StationReject,
    TagRead,
)
from controller.domain.rfid import CartonCheck, Verdict
from controller.domain.sorting import decide_chute
from controller.domain.tasks import (
    ACTIVE_STATUSES,
    MAX_ATTEMPTS,
    NOT_LOADED,
    TOTE_LOST,
    TaskKind,
    TaskStatus,
    TransportTask,
    on_agv,
)
from controller.service.agv_link import agv_state, load_mismatch, master_for, stop_action
from controller.service.fleet_link import FleetLink, WireOrder
from controller.traffic.trips import Stop, StopKind
from controller.vda5050.actions import ActionSpec
from controller.vda5050.events import (
    Incident,
    IncidentKind,
    InstantActionsRefused,
    MessageIgnored,
    OrderAccepted,
    OrderFailed,
    OrderRefused,
    OrderRejected,
    Publish,
)
from controller.vda5050.events import Output as MasterOutput

TRACK_MEMORY = 10_000  # sorter trackIds remembered for repeated scans; far above parcels in a loop
PUT_BACK_PRIORITY = 0  # putting stock back waits behind every order's fetches


class UnknownDevice(WarehouseError):
    """A message names a device (AGV, station, reader, door) that the site does not have."""

    def __init__(self, kind: str, device_id: str) -> None:
        super().__init__(f"unknown {kind} {device_id!r}")
        self.kind = kind
        self.device_id = device_id


class WorkRefused(WarehouseError):
    """A work feed item this site cannot carry out (it names totes or bins it does not have)."""

    def __init__(self, order_id: str, problem: str) -> None:
        super().__init__(f"order {order_id}: {problem}")
        self.order_id = order_id
        self.problem = problem


class Stage(StrEnum):
    PICKING = "picking"
    PICKED = "picked"
    VERIFYING = "verifying"
    PACKED = "packed"
    SHIPPED = "shipped"  # its parcel left on a truck
    EXCEPTION = "exception"
    CANCELLED = "cancelled"


ENDED = frozenset({Stage.SHIPPED, Stage.EXCEPTION, Stage.CANCELLED})


@dataclass
class SiteOrder:
    order: ReleasedOrder
    station_id: str
    stage: Stage = Stage.PICKING
    picking_reported: bool = False
    fetch_tasks: list[str] = field(default_factory=list)  # the current version's
    trips: list[str] = field(default_factory=list)  # every fetch ever planned, amended ones too
    sscc: str | None = None
    cancel_reported: bool = False


@dataclass
class Parcel:
    sscc: str
    order_id: str
    carrier: str
    sorted: bool = False
    loaded_at: str | None = None


@dataclass(frozen=True, slots=True)
class Metric:
    """Something worth counting happened (the edge maps it onto a Prometheus counter)."""

    name: str
    label: str = ""


@dataclass(frozen=True, slots=True)
class Notice:
    """Something a person should read (the edge logs it): nothing else reports it."""

    text: str


# Publish: a VDA 5050 message from an AGV's master control, for the edge to send as is;
# MessageIgnored: an AGV message naming another vehicle, which the edge drops as malformed.
Output = Effect | Publish | MessageIgnored | Metric | Notice


@dataclass(frozen=True, slots=True)
class _Track:
    sscc: str | None
    chute: str


class SiteController:
    def __init__(
        self,
        site: Site,
        *,
        id_prefix: str,
        next_sscc_serial: int,
        verify_window: timedelta,
        fleet_tick_share: float | None = None,
    ) -> None:
        self.site = site
        # Traffic and dispatch (controller/traffic). Its tick plans every AGV: on every input,
        # or with `fleet_tick_share` set, only as often as keeps the ticks to that share of
        # the time (a few AGVs: on every state, so that an AGV is granted its next node as
        # it reports the last; hundreds: every few hundred ms).
        self.fleet = FleetLink(site)
        self.fleet_tick_share = fleet_tick_share
        self._fleet_ticked: datetime | None = None
        self._fleet_tick_took = timedelta(0)
        self.id_prefix = id_prefix
        self.next_sscc_serial = next_sscc_serial
        self.verify_window = verify_window
        self.agvs = {
            a.serial_number: Agv(a.serial_number, a.manufacturer, master_for(a, id_prefix))
            for a in site.agvs
        }
        self.tote_home = site.bin_home()
        # node id, on_agv(serial) or TOTE_LOST
        self.tote_at: dict[str, str] = dict(self.tote_home)
        self.tasks: dict[str, TransportTask] = {}
        self._queued: list[TransportTask] = []  # waiting for an AGV, in no particular order
        self._busy_totes: set[str] = set()  # totes an assigned task is moving
        self.orders: dict[str, SiteOrder] = {}
        self._cancelled_unknown: set[str] = set()  # cancelled before this site held them
        self.putbacks: set[str] = set()
        self.parcels: dict[str, Parcel] = {}
        self.checks: dict[str, list[CartonCheck]] = {s.id: [] for s in site.stations}
        self.packed_epcs: set[str] = set()
        self.chute_states: dict[str, str] = {}
        self.door_loaded: dict[str, list[str]] = {d.id: [] for d in site.dock_doors}
        self._last_departure: dict[str, str] = {}
        self._tracks: OrderedDict[str, _Track] = OrderedDict()
        self._task_seq = 0
        self._station_reader = {s.rfid_reader: s.id for s in site.stations}
        self._door_reader = {d.rfid_reader: d.id for d in site.dock_doors}
        self._doors = {d.id: d for d in site.dock_doors}

    # --- work from the central API --------------------------------------------------------

    def release_order(self, order: ReleasedOrder, now: datetime) -> list[Output]:
        """Plan a fetch per allocation; a higher version of an order already held is an
        amendment, the same or a lower one a repeat (ignored). Raises WorkRefused, changing
        nothing, for work that does not fit this site (a tote or bin it does not have)."""
        current = self.orders.get(order.order_id)
        if current is not None:
            return self._amend(current, order, now)
        if order.order_id in self._cancelled_unknown:
            return [
                Metric("duplicate_work", "order.released"),
                Notice(f"order {order.order_id} was cancelled before its release: ignored"),
            ]
        self._check_fits(order)
        site_order = SiteOrder(order, self._least_busy_station())
        self.orders[order.order_id] = site_order
        self._plan_fetches(site_order)
        return self._dispatch(now)

    def _plan_fetches(self, site_order: SiteOrder) -> None:
        order = site_order.order
        station_node = self.site.station(site_order.station_id).node
        for line in order.lines:
            for alloc in line.allocations:
                task = self._enqueue(
                    TransportTask(
                        *self._next_task_id(),
                        kind=TaskKind.FETCH,
                        tote_id=alloc.tote_id,
                        source=alloc.bin,
                        destination=station_node,
                        priority=order.priority,
                        order_id=order.order_id,
                        line_id=line.line_id,
                        sku=line.sku,
                        gtin=line.gtin,
                        bin=alloc.bin,
                        qty=alloc.qty,
                        station_id=site_order.station_id,
                    )
                )
                site_order.fetch_tasks.append(task.task_id)
                site_order.trips.append(task.task_id)

    def _amend(self, current: SiteOrder, order: ReleasedOrder, now: datetime) -> list[Output]:
        """Replace the order's lines with a higher version's, if no work for it has started
        physically; else refuse with an exception. Trips already sent to an AGV for the old
        version (driving to the rack, nothing lifted yet) finish: their totes come to the
        station and go straight back."""
        order_id, old = order.order_id, current.order.version
        if order.version <= old:
            return [Metric("duplicate_work", "order.released")]
        if current.stage in ENDED:
            return [
                Metric("amendments", "ignored"),
                Notice(f"order {order_id}: version {order.version} ignored, it is {current.stage}"),
            ]
        started = self._started(current)
        if started is not None:
            detail = (
                f"version {order.version} not applied: work on version {old} has "
                f"started ({started})"
            )
            return [
                Metric("amendments", "refused"),
                *self._exception(order_id, "amendment_refused", detail),
            ]
        self._check_fits(order)
        self._drop_queued(current.fetch_tasks)
        current.order, current.fetch_tasks = order, []
        self._plan_fetches(current)
        return [Metric("amendments", "applied"), *self._dispatch(now)]

    def _started(self, order: SiteOrder) -> str | None:
        """What of the order has happened physically (a pick, a lifted tote), if anything."""
        tasks = [self.tasks[t] for t in order.fetch_tasks]
        for task in tasks:
            if task.picked_qty is not None:
                return f"line {task.line_id}: {task.picked_qty} picked from {task.tote_id}"
        for task in tasks:
            if task.status in (TaskStatus.LOADED, TaskStatus.DELIVERED):
                return f"line {task.line_id}: tote {task.tote_id} lifted"
        if order.stage is not Stage.PICKING:
            return f"the order is {order.stage}"
        return None

    def cancel_order(self, order_id: str, now: datetime) -> list[Output]:
        """Stop the order: drop its fetches not yet sent to an AGV, return its totes, tell
        its station, keep its parcel off the carrier chutes and trucks. `order.cancelled` is
        reported once no AGV trip for it is under way (at once if none is)."""
        order = self.orders.get(order_id)
        if order is None:
            self._cancelled_unknown.add(order_id)
            return [Report(ReportType.ORDER_CANCELLED, order_id), Metric("cancels", "unknown")]
        if order.stage is Stage.SHIPPED:
            return [
                Metric("cancels", "shipped"),
                Notice(f"order {order_id}: cancel ignored, the order has shipped"),
            ]
        if order.stage is Stage.CANCELLED:  # a repeat: the pending order.cancelled answers it
            again: list[Output] = [Metric("cancels", "repeat")]
            if order.cancel_reported:
                again.insert(0, Report(ReportType.ORDER_CANCELLED, order_id))
            return again
        order.stage = Stage.CANCELLED
        out: list[Output] = [
            StationCancel(order.station_id, order_id),
            Metric("cancels", "accepted"),
        ]
        self._drop_queued(order.trips)
        for task_id in order.trips:  # totes standing at the station for it go home
            task = self.tasks[task_id]
            if task.status is TaskStatus.DELIVERED and not task.return_queued:
                self._queue_return(task)
        parcel = self.parcels.get(order.sscc) if order.sscc else None
        if parcel is not None and parcel.loaded_at is not None:
            self.door_loaded[parcel.loaded_at].remove(parcel.sscc)
            out.append(
                Notice(
                    f"order {order_id} cancelled: its parcel {parcel.sscc} is loaded at door "
                    f"{parcel.loaded_at}; take it off the truck"
                )
            )
        return out + self._settle_cancel(order) + self._dispatch(now)

    def _settle_cancel(self, order: SiteOrder) -> list[Output]:
        """`order.cancelled` once nothing of a cancelled order is moving any more."""
        if order.stage is not Stage.CANCELLED or order.cancel_reported:
            return []
        if any(self.tasks[t].status in ACTIVE_STATUSES for t in order.trips):
            return []
        order.cancel_reported = True
        return [Report(ReportType.ORDER_CANCELLED, order.order.order_id)]

    def request_putback(self, request: PutBackRequest, now: datetime) -> list[Output]:
        """Fetch each line's tote to a station so the operator puts the items back in. A
        repeated putback_id is ignored; raises WorkRefused, changing nothing, for a line
        that does not fit this site."""
        if request.putback_id in self.putbacks:
            return [Metric("duplicate_work", "putback.requested")]
        for line in request.lines:
            if self.tote_home.get(line.tote_id) != line.bin:
                raise WorkRefused(
                    request.order_id,
                    f"put-back {request.putback_id} line {line.line_id}: tote "
                    f"{line.tote_id!r} is not in bin {line.bin!r} on site {self.site.site!r}",
                )
            if line.qty <= 0:
                raise WorkRefused(
                    request.order_id,
                    f"put-back {request.putback_id} line {line.line_id}: qty {line.qty}",
                )
        self.putbacks.add(request.putback_id)
        station_id = self._least_busy_station()
        station_node = self.site.station(station_id).node
        for line in request.lines:
            self._enqueue(
                TransportTask(
                    *self._next_task_id(),
                    kind=TaskKind.PUT_BACK,
                    tote_id=line.tote_id,
                    source=line.bin,
                    destination=station_node,
                    priority=PUT_BACK_PRIORITY,
                    order_id=request.order_id,
                    line_id=line.line_id,
                    sku=line.sku,
                    gtin=line.gtin,
                    bin=line.bin,
                    qty=line.qty,
                    station_id=station_id,
                    putback_id=request.putback_id,
                )
            )
        return [Metric("put_backs", "requested"), *self._dispatch(now)]

    def _check_fits(self, order: ReleasedOrder) -> None:
        for line in order.lines:
            for alloc in line.allocations:
                home = self.tote_home.get(alloc.tote_id)
                if home is None or home != alloc.bin:
                    raise WorkRefused(
                        order.order_id,
                        f"line {line.line_id}: tote {alloc.tote_id!r} is not in "
                        f"bin {alloc.bin!r} on site {self.site.site!r}",
                    )
                if alloc.qty <= 0:
                    raise WorkRefused(order.order_id, f"line {line.line_id}: qty {alloc.qty}")

    # --- AGVs ------------------------------------------------------------------------------

    def agv_connection(
        self, serial: str, message: Mapping[str, Any], now: datetime
    ) -> list[Output]:
        """A `connection` message. Its master control asks an AGV coming online for its
        state (states are not retained) and, without a factsheet, for that too."""
        agv = self._agv(serial)
        out = self._from_master(serial, agv.master.on_connection(message, now), now)
        out.append(Metric("agv_connection", agv.connection.value))
        return out + self._dispatch(now)

    def agv_factsheet(self, serial: str, message: Mapping[str, Any], now: datetime) -> list[Output]:
        """What the vehicle can do (actions, optional fields, limits); orders honour it."""
        out = self._from_master(serial, self._agv(serial).master.on_factsheet(message, now), now)
        return out + self._dispatch(now)

    def agv_state(self, serial: str, message: Mapping[str, Any], now: datetime) -> list[Output]:
        """A `state` message: the task's progress, then what the master control made of it
        (accepted, rejected, failed), then whether the trip is over."""
        agv = self._agv(serial)
        events = agv.master.on_state(message, now)
        if any(isinstance(e, MessageIgnored) for e in events):
            return self._from_master(serial, events, now)
        state = agv_state(agv.master.vehicle)
        assert state is not None  # the master took it in
        agv.state = state
        out: list[Output] = []
        if state.last_node_id and not self.fleet.has(state.last_node_id):
            out.append(Metric("agv_off_map", serial))
        out += self._observe(serial, agv, now)
        task = self._task_of(serial, state.order_id)
        if task is not None:
            task.last_node_id = state.last_node_id
            out += self._follow_task(task, state, now)
        out += self._from_master(serial, events, now)
        task = self._task_of(serial, state.order_id)  # unless the events ended it
        if task is not None and state.order_complete:
            agv.task_id = None
            if task.status in ACTIVE_STATUSES:  # ended without its drop: treat as failed
                out += self._fail_task(task, "agv_order_incomplete")
        return out + self._dispatch(now)

    def _task_of(self, serial: str, agv_order_id: str | None) -> TransportTask | None:
        """The task the AGV is executing, if `agv_order_id` is its current VDA 5050 order."""
        task_id = self.agvs[serial].task_id
        task = self.tasks.get(task_id) if task_id else None
        return task if task is not None and task.agv_order_id == agv_order_id else None

    def _follow_task(self, task: TransportTask, state: AgvState, now: datetime) -> list[Output]:
        assert task.agv is not None
        out: list[Output] = []
        statuses = {a.action_id: a.status for a in state.action_states}
        pick, drop = statuses.get(task.pick_action_id), statuses.get(task.drop_action_id)
        lifted = task.status in NOT_LOADED and (pick is ActionStatus.FINISHED or task.carried_by)
        if lifted:
            task.status = TaskStatus.LOADED
            self.tote_at[task.tote_id] = on_agv(task.agv)
            self._stop_done(task, StopKind.PICK)
        dropped = drop is ActionStatus.FINISHED
        if (mismatch := load_mismatch(task, state, dropped)) is not None:
            return self._tote_mismatch(task, state, mismatch, now)
        if lifted:
            out += self._on_loaded(task)
        if task.status is TaskStatus.LOADED and dropped:
            self._stop_done(task, StopKind.DROP)
            task.status = TaskStatus.DELIVERED
            self.tote_at[task.tote_id] = task.destination
            self._busy_totes.discard(task.tote_id)
            out.append(Metric("agv_trips", task.kind.value))
            out += self._on_delivered(task)
        return out

    def _tote_mismatch(
        self, task: TransportTask, state: AgvState, mismatch: str, now: datetime
    ) -> list[Output]:
        """The AGV's loads contradict the task: it did not lift the tote it was sent for, or
        still has the one it set down. Its trip stops, and nobody knows where the tote is
        until someone looks: the task fails (the order's exception says why)."""
        assert task.agv is not None
        agv = self.agvs[task.agv]
        out: list[Output] = [Notice(f"{task.task_id}: {mismatch}")]
        if not state.order_complete:
            out += self._from_master(agv.serial_number, agv.master.cancel_order(now), now)
        agv.task_id = None
        self.fleet.abandon(agv.serial_number)
        self.tote_at[task.tote_id] = TOTE_LOST
        return out + self._fail_task(task, "tote_mismatch")

    def _from_master(
        self, serial: str, outputs: Iterable[MasterOutput], now: datetime
    ) -> list[Output]:
        """The master control's messages go out as they are; its events move the tasks."""
        out: list[Output] = []
        for o in outputs:
            match o:
                case Publish():
                    out.append(o)
                case OrderAccepted():
                    task = self._task_of(serial, o.order_id)
                    if task is not None and task.status is TaskStatus.ASSIGNED:
                        task.status = TaskStatus.ACCEPTED
                    out.append(Metric("agv_orders", "accepted"))
                case OrderRejected():
                    out.append(Metric("agv_orders", "rejected"))  # its Incident follows
                case Incident(kind=IncidentKind.ORDER_REJECTED | IncidentKind.ORDER_NOT_ACCEPTED):
                    out.append(Metric("agv_incidents", o.kind.value))
                    agv = self.agvs[serial]
                    if (
                        agv.state is not None
                        and agv.state.order_id == o.order_id
                        and not agv.state.order_complete
                    ):
                        # An update refused: the AGV still runs the order as it had it, but
                        # it can no longer be extended (CHECKLIST 40). Stop it.
                        out += self._from_master(serial, agv.master.cancel_order(now), now)
                    task = self._task_of(serial, o.order_id)
                    if task is not None:
                        # A FATAL error makes the AGV refuse what was on its way to it: the
                        # error, not the refusal, is why the task ends.
                        state = self.agvs[serial].state
                        fatal = state is not None and any(e.level == "FATAL" for e in state.errors)
                        reason = "agv_failed" if fatal else f"agv_{o.kind.value}"
                        out += self._agv_dropped(task, reason, o.detail)
                case OrderFailed():
                    out.append(Metric("agv_orders", "failed"))
                    task = self._task_of(serial, o.order_id)
                    agv = self.agvs[serial]
                    if agv.state is not None and not agv.state.order_complete:
                        # It would drive on to the rest of a trip that cannot succeed.
                        stop = agv.master.cancel_order(now)
                        out += self._from_master(serial, stop, now)
                    if task is not None:
                        out += self._agv_dropped(task, "agv_failed", "; ".join(o.reasons))
                case Incident():
                    out += [
                        Metric("agv_incidents", o.kind.value),
                        Notice(f"AGV {serial}: {o.kind.value}: {o.detail}"),
                    ]
                case OrderRefused() | InstantActionsRefused():
                    out.append(Notice(f"AGV {serial}: not sent: {o.reason}"))
                case MessageIgnored(names_another_vehicle=True):
                    out.append(o)  # the edge drops the message as malformed
                case MessageIgnored():
                    out.append(Metric("agv_messages_ignored", o.topic.value))
                case _:
                    pass  # completions, cancels and base requests: the states tell the rest
        return out

    def _agv_dropped(self, task: TransportTask, reason: str, detail: str) -> list[Output]:
        """The AGV will not finish the task. With the tote still home it goes back in the
        queue for another order (up to MAX_ATTEMPTS); with the tote on board, or out of
        attempts, it fails and the order's exception tells the central API."""
        assert task.agv is not None
        agv = self.agvs[task.agv]
        if agv.task_id == task.task_id:
            agv.task_id = None
        self._abandon_trip(task)
        if task.kind is TaskKind.FETCH:
            assert task.order_id is not None
            order = self.orders[task.order_id]
            if order.stage in ENDED or task.task_id not in order.fetch_tasks:
                task.status = TaskStatus.CANCELLED  # nobody waits for this tote any more
                self._busy_totes.discard(task.tote_id)
                return [Metric("task_failed", reason), *self._settle_cancel(order)]
        if task.status in NOT_LOADED and task.attempts < MAX_ATTEMPTS:
            what = f"{task.kind} task {task.task_id} ({task.tote_id}) on {task.agv}"
            task.status, task.agv, task.last_node_id = TaskStatus.QUEUED, None, None
            self._busy_totes.discard(task.tote_id)
            self._queued.append(task)
            return [
                Metric("task_requeued", reason),
                Notice(f"{what}: {reason} ({detail}); queued again, attempt {task.attempts}"),
            ]
        return self._fail_task(task, reason)

    def _on_loaded(self, task: TransportTask) -> list[Output]:
        if task.kind is not TaskKind.FETCH or task.order_id is None:
            return []
        order = self.orders[task.order_id]
        if (
            order.picking_reported
            or order.stage is Stage.CANCELLED
            or task.task_id not in order.fetch_tasks  # for a version since amended
        ):
            return []
        order.picking_reported = True
        return [Report(ReportType.ORDER_PICKING, task.order_id, {"tote_id": task.tote_id})]

    def _on_delivered(self, task: TransportTask) -> list[Output]:
        if task.kind is TaskKind.RETURN:
            return []
        assert task.order_id is not None
        assert task.line_id is not None
        assert task.sku is not None
        assert task.gtin is not None
        assert task.station_id is not None
        if task.kind is TaskKind.PUT_BACK:
            assert task.putback_id is not None
            return [
                StationPutBack(
                    task.station_id,
                    task.task_id,
                    task.putback_id,
                    task.order_id,
                    task.line_id,
                    task.tote_id,
                    task.sku,
                    task.gtin,
                    task.qty,
                )
            ]
        order = self.orders[task.order_id]
        if order.stage in (Stage.EXCEPTION, Stage.CANCELLED) or (
            task.task_id not in order.fetch_tasks
        ):
            self._queue_return(task)
            return self._settle_cancel(order)
        return [
            StationPick(
                task.station_id,
                task.task_id,
                task.order_id,
                task.line_id,
                task.tote_id,
                task.sku,
                task.gtin,
                task.qty,
            )
        ]

    def _fail_task(self, task: TransportTask, reason: str) -> list[Output]:
        task.status = TaskStatus.FAILED
        self._abandon_trip(task)
        self._busy_totes.discard(task.tote_id)
        out: list[Output] = [Metric("task_failed", reason)]
        if task.agv is not None and self.tote_at[task.tote_id] == on_agv(task.agv):
            out += self._bring_home_once_recovered(task)
        what = f"{task.kind} task {task.task_id} ({task.tote_id}) failed: {reason}"
        if task.kind is TaskKind.FETCH:
            assert task.order_id is not None
            order = self.orders[task.order_id]
            reported = []
            if task.task_id in order.fetch_tasks:
                reported = self._exception(
                    task.order_id, reason, f"task {task.task_id} ({task.tote_id})"
                )
            out += reported or [Notice(f"order {task.order_id} ({order.stage}): {what}")]
            out += self._settle_cancel(order)
        elif task.kind is TaskKind.PUT_BACK:
            out += [
                Metric("put_backs", "failed"),
                Notice(f"put-back {task.putback_id} line {task.line_id} not done: {what}"),
            ]
        else:
            out.append(Notice(f"{what}; the tote is at {self.tote_at[task.tote_id]}"))
        return out

    # --- stations --------------------------------------------------------------------------

    def station_picked(
        self, station_id: str, task_id: str, qty: int, now: datetime
    ) -> list[Output]:
        self.require_station(station_id)
        task = self.tasks.get(task_id)
        if task is None or task.kind is not TaskKind.FETCH or task.station_id != station_id:
            return [Metric("unknown_reference", "station_task")]
        if task.picked_qty is not None:  # a redelivered confirmation (QoS 1): already counted
            return [Metric("duplicate_confirmation", "picked")]
        assert task.order_id is not None
        task.picked_qty = qty
        out: list[Output] = [
            Report(
                ReportType.LINE_PICKED,
                task.order_id,
                {
                    "line_id": task.line_id,
                    "sku": task.sku,
                    "bin": task.bin,
                    "tote_id": task.tote_id,
                    "qty": qty,
                },
            ),
        ]
        if not task.return_queued:  # a cancel sends it home as soon as it comes
            self._queue_return(task)
        order = self.orders[task.order_id]
        if order.stage is Stage.CANCELLED:  # picked before the station heard of the cancel
            out.append(Metric("cancelled_order_messages", "picked"))
        elif qty != task.qty:  # short, or more than reserved: stock and carton need a person
            reason = "short_pick" if qty < task.qty else "over_pick"
            out += self._exception(
                task.order_id, reason, f"{task.sku}: {qty} of {task.qty} from {task.tote_id}"
            )
        elif order.stage is Stage.PICKING and self._all_picked(order):
            order.stage = Stage.PICKED
            out += [
                Report(ReportType.ORDER_PICKED, task.order_id),
                StationCloseCarton(station_id, task.order_id),
            ]
        return out + self._dispatch(now)

    def station_carton_closed(self, station_id: str, order_id: str, now: datetime) -> list[Output]:
        self.require_station(station_id)
        order = self.orders.get(order_id)
        if order is None or order.station_id != station_id:
            return [Metric("unknown_reference", "carton")]
        if order.stage is Stage.CANCELLED:
            return [Metric("cancelled_order_messages", "cartonClosed")]
        if order.stage is not Stage.PICKED:
            return [Metric("duplicate_confirmation", "cartonClosed")]
        order.stage = Stage.VERIFYING
        expected: Counter[str] = Counter()
        for task_id in order.fetch_tasks:
            task = self.tasks[task_id]
            assert task.gtin is not None
            expected[task.gtin] += task.picked_qty or 0
        self.checks[station_id].append(
            CartonCheck(order_id, station_id, expected, now + self.verify_window)
        )
        return []

    def station_put_back(
        self, station_id: str, task_id: str, qty: int, now: datetime
    ) -> list[Output]:
        """The operator put `qty` items back into the tote: report it, send the tote home."""
        self.require_station(station_id)
        task = self.tasks.get(task_id)
        if task is None or task.kind is not TaskKind.PUT_BACK or task.station_id != station_id:
            return [Metric("unknown_reference", "station_task")]
        if task.picked_qty is not None:  # a redelivered confirmation (QoS 1)
            return [Metric("duplicate_confirmation", "putBack")]
        assert task.order_id is not None
        task.picked_qty = qty
        out: list[Output] = [
            Report(
                ReportType.LINE_PUT_BACK,
                task.order_id,
                {
                    "putback_id": task.putback_id,
                    "line_id": task.line_id,
                    "sku": task.sku,
                    "bin": task.bin,
                    "tote_id": task.tote_id,
                    "qty": qty,
                },
            ),
            Metric("put_backs", "done" if qty == task.qty else "short"),
        ]
        if qty != task.qty:
            out.append(
                Notice(
                    f"put-back {task.putback_id} line {task.line_id}: {qty} of {task.qty} "
                    f"{task.sku} put back into {task.tote_id}"
                )
            )
        self._queue_return(task)
        return out + self._dispatch(now)

    def _all_picked(self, order: SiteOrder) -> bool:
        return all(self.tasks[t].picked_qty is not None for t in order.fetch_tasks)

    def _bring_home_once_recovered(self, task: TransportTask) -> list[Output]:
        """A task failed with the tote on board: the same AGV takes it home once it is
        ready again (its error cleared), so the tote's stock is not stranded on it."""
        assert task.agv is not None
        home = self._enqueue(
            TransportTask(
                *self._next_task_id(),
                kind=TaskKind.RETURN,
                tote_id=task.tote_id,
                source=on_agv(task.agv),
                destination=self.tote_home[task.tote_id],
                priority=task.priority,
                carried_by=task.agv,
            )
        )
        return [Notice(f"{task.tote_id} is on {task.agv}: {home.task_id} takes it home")]

    def _queue_return(self, task: TransportTask) -> None:
        """The tote goes back to its home bin (by whichever AGV is free first)."""
        task.return_queued = True
        self._enqueue(
            TransportTask(
                *self._next_task_id(),
                kind=TaskKind.RETURN,
                tote_id=task.tote_id,
                source=task.destination,
                destination=self.tote_home[task.tote_id],
                priority=0,
            )
        )

    # --- RFID gates ------------------------------------------------------------------------

    def tag_reads(self, reader_id: str, reads: Iterable[TagRead], now: datetime) -> list[Output]:
        if reader_id in self._station_reader:
            return self._station_reads(self._station_reader[reader_id], reader_id, reads, now)
        if reader_id in self._door_reader:
            return self._door_reads(self._door_reader[reader_id], reader_id, reads)
        raise UnknownDevice("reader", reader_id)

    def _strong_decoded(
        self, reader_id: str, reads: Iterable[TagRead], out: list[Output]
    ) -> list[tuple[str, Sgtin | Sscc]]:
        min_rssi = self.site.reader(reader_id).min_rssi_dbm
        decoded: list[tuple[str, Sgtin | Sscc]] = []
        for read in reads:
            if read.rssi_dbm < min_rssi:
                out.append(Metric("tag_reads_ignored", "weak"))
                continue
            try:
                epc = decode_epc(read.epc_hex)
            except InvalidEpc:
                out.append(Metric("tag_reads_ignored", "invalid_epc"))
                continue
            if isinstance(epc, Sgtin | Sscc):
                decoded.append((read.epc_hex.upper(), epc))
            else:
                out.append(Metric("tag_reads_ignored", "other_scheme"))
        return decoded

    def _station_reads(
        self, station_id: str, reader_id: str, reads: Iterable[TagRead], now: datetime
    ) -> list[Output]:
        out: list[Output] = []
        pending = self.checks[station_id]
        for epc_hex, epc in self._strong_decoded(reader_id, reads, out):
            if not pending or not isinstance(epc, Sgtin) or epc_hex in self.packed_epcs:
                continue
            if any(epc_hex in check.seen for check in pending):
                continue  # the same tag again
            # Cartons can follow each other closely through one gate: a read belongs to the
            # oldest carton still missing that GTIN; one that none expects counts against the
            # oldest, as an extra item.
            check = next((c for c in pending if c.wants(epc.gtin)), pending[0])
            if check.add(epc_hex, epc.gtin) is Verdict.MATCH:
                pending.remove(check)
                if self.orders[check.order_id].stage is Stage.CANCELLED:
                    out.append(Metric("cartons_verified", "cancelled"))
                else:
                    out += self._pack(check)
        return out

    def _pack(self, check: CartonCheck) -> list[Output]:
        order = self.orders[check.order_id]
        prefix = self.site.gs1.company_prefix
        sscc = make_sscc(self.site.gs1.sscc_extension_digit, prefix, self.next_sscc_serial)
        self.next_sscc_serial += 1
        self.packed_epcs.update(check.seen)
        order.stage, order.sscc = Stage.PACKED, sscc
        carrier = order.order.carrier
        self.parcels[sscc] = Parcel(sscc, check.order_id, carrier)
        return [
            Report(
                ReportType.ORDER_PACKED,
                check.order_id,
                {"sscc": sscc, "carrier": carrier, "epcs": sorted(check.seen)},
            ),
            StationLabel(check.station_id, check.order_id, sscc, carrier),
            Metric("cartons_verified", "match"),
        ]

    def _door_reads(self, door_id: str, reader_id: str, reads: Iterable[TagRead]) -> list[Output]:
        out: list[Output] = []
        door = self._doors[door_id]
        for _, epc in self._strong_decoded(reader_id, reads, out):
            parcel = self.parcels.get(epc.sscc) if isinstance(epc, Sscc) else None
            if parcel is None or parcel.loaded_at is not None:
                continue
            stage = self.orders[parcel.order_id].stage
            if not parcel.sorted or stage in (Stage.EXCEPTION, Stage.CANCELLED):
                out.append(Metric("parcels_not_loadable", door_id))
                continue
            if parcel.carrier not in door.carriers:
                out.append(Metric("parcels_wrong_door", door_id))
                continue
            parcel.loaded_at = door_id
            self.door_loaded[door_id].append(parcel.sscc)
            out.append(
                Report(
                    ReportType.PARCEL_LOADED,
                    parcel.order_id,
                    {"sscc": parcel.sscc, "door": door_id},
                )
            )
        return out

    # --- sorter ----------------------------------------------------------------------------

    def sorter_scanned(self, track_id: str, codes: Iterable[str]) -> list[Output]:
        """Answer a scan with a chute; a repeated scan of a trackId gets the same answer."""
        track = self._tracks.get(track_id)
        if track is None:
            sscc = self._sscc_in(codes)
            parcel = self.parcels.get(sscc) if sscc else None
            carrier = (
                parcel.carrier
                if parcel is not None
                and not parcel.sorted
                and self.orders[parcel.order_id].stage is not Stage.CANCELLED
                else None
            )
            track = _Track(sscc, decide_chute(self.site.sorter, carrier, self.chute_states))
            self._tracks[track_id] = track
            if len(self._tracks) > TRACK_MEMORY:
                self._tracks.popitem(last=False)
        return [SorterDivert(self.site.sorter.id, track_id, track.chute)]

    def sorter_diverted(self, track_id: str, chute: str) -> list[Output]:
        track = self._tracks.get(track_id)
        parcel = self.parcels.get(track.sscc) if track and track.sscc else None
        if parcel is None:
            return [Metric("parcels_diverted_unknown", chute)]
        if parcel.sorted:
            return [Metric("duplicate_confirmation", "diverted")]
        if self.orders[parcel.order_id].stage is Stage.CANCELLED:
            return [Metric("parcels_rejected", "cancelled")]  # not sorted for a carrier
        assert track is not None
        if chute != track.chute:
            return [
                Metric("parcels_rejected", "missorted"),
                *self._exception(
                    parcel.order_id, "missorted", f"{parcel.sscc} in {chute}, not {track.chute}"
                ),
            ]
        if chute == self.site.sorter.reject_chute:
            return [
                Metric("parcels_rejected", "reject_chute"),
                *self._exception(
                    parcel.order_id, "sorter_reject", f"{parcel.sscc} diverted to reject chute"
                ),
            ]
        parcel.sorted = True
        return [
            Report(
                ReportType.PARCEL_SORTED, parcel.order_id, {"sscc": parcel.sscc, "chute": chute}
            ),
            Metric("parcels_sorted", chute),
        ]

    def sorter_lost(self, track_id: str, event: str, reason: str) -> list[Output]:
        """A `rejected` or `lost` parcel ends its order in an exception."""
        track = self._tracks.get(track_id)
        parcel = self.parcels.get(track.sscc) if track and track.sscc else None
        out: list[Output] = [Metric("parcels_rejected", event)]
        if parcel is not None and not parcel.sorted:
            out += self._exception(parcel.order_id, f"sorter_{event}", reason or parcel.sscc)
        return out

    def chute_status(self, chute: str, state: str) -> list[Output]:
        self.chute_states[chute] = state
        return []

    def _sscc_in(self, codes: Iterable[str]) -> str | None:
        for code in codes:
            sscc = sscc_from_barcode(code)
            if sscc is not None:
                return sscc
            try:
                epc = decode_epc(code)
            except InvalidEpc:
                continue
            if isinstance(epc, Sscc):
                return epc.sscc
        return None

    # --- dock doors ------------------------------------------------------------------------

    def truck_departed(self, door_id: str, departed_at: str) -> list[Output]:
        """Ship what was loaded at the door. A redelivered departure (QoS 1) carries the same
        time as the one already handled and ships nothing."""
        if door_id not in self.door_loaded:
            raise UnknownDevice("dock door", door_id)
        if self._last_departure.get(door_id) == departed_at:
            return [Metric("duplicate_confirmation", "truckDeparted")]
        self._last_departure[door_id] = departed_at
        out: list[Output] = []
        for sscc in self.door_loaded[door_id]:
            parcel = self.parcels[sscc]
            self.orders[parcel.order_id].stage = Stage.SHIPPED
            out += [
                Report(ReportType.PARCEL_SHIPPED, parcel.order_id, {"sscc": sscc, "door": door_id}),
                Metric("parcels_shipped", door_id),
            ]
        self.door_loaded[door_id] = []
        return out

    # --- time ------------------------------------------------------------------------------

    def tick(self, now: datetime) -> list[Output]:
        """Close verification windows that ran out, and dispatch what became possible."""
        out: list[Output] = []
        for station_id, pending in self.checks.items():
            while pending and pending[0].judge_at(now) is Verdict.MISMATCH:
                check = pending.pop(0)
                if self.orders[check.order_id].stage is Stage.CANCELLED:
                    out.append(Metric("cartons_verified", "cancelled"))
                    continue
                out += [
                    StationReject(station_id, check.order_id, "rfid_mismatch"),
                    Metric("cartons_verified", "mismatch"),
                    *self._exception(check.order_id, "rfid_mismatch", check.difference()),
                ]
        for serial, agv in self.agvs.items():  # resends and timeouts (CHECKLIST 38, 43)
            out += self._from_master(serial, agv.master.tick(now), now)
        return out + self._dispatch(now)

    # --- internals -------------------------------------------------------------------------

    def _exception(self, order_id: str, reason: str, detail: object) -> list[Output]:
        """The order stops in an exception, unless it has already ended (shipped, cancelled,
        or in an exception)."""
        order = self.orders[order_id]
        if order.stage in ENDED:
            return []
        order.stage = Stage.EXCEPTION
        self._drop_queued(order.trips)
        return [
            Report(ReportType.ORDER_EXCEPTION, order_id, {"reason": reason, "detail": detail}),
            Metric("exceptions", reason),
        ]

    def _next_task_id(self) -> tuple[str, int]:
        self._task_seq += 1
        return f"{self.id_prefix}-{self._task_seq}", self._task_seq

    def _enqueue(self, task: TransportTask) -> TransportTask:
        self.tasks[task.task_id] = task
        self._queued.append(task)
        return task

    def _drop_queued(self, task_ids: Iterable[str]) -> None:
        """Tasks not yet sent to an AGV are dropped (those under way finish)."""
        for task_id in task_ids:
            task = self.tasks[task_id]
            if task.status is TaskStatus.QUEUED:
                task.status = TaskStatus.CANCELLED
        self._queued = [t for t in self._queued if t.status is TaskStatus.QUEUED]

    def _dispatch(self, now: datetime) -> list[Output]:
        """Tasks that can start go to the fleet's dispatcher (controller/traffic): each tick
        it pairs free AGVs with the most urgent of them, plans every AGV's next steps, and
        the reservation kernel grants them. What it granted goes out as orders."""
        out: list[Output] = []
        waiting: list[TransportTask] = []
        for task in sorted(self._queued, key=TransportTask.dispatch_key):
            if self.tote_at[task.tote_id] == TOTE_LOST:
                out += self._fail_task(task, "tote_lost")  # waiting would be for ever
                continue
            if task.tote_id in self._busy_totes or self.tote_at[task.tote_id] != task.source:
                continue
            if task.carried_by is not None:
                out += self._carry_home(task, now)
                continue
            waiting.append(task)
        if self._fleet_tick_due(now):
            out += self._fleet_tick(now, [t for t in waiting if t.status is TaskStatus.QUEUED])
        self._queued = list(
            {id(t): t for t in self._queued if t.status is TaskStatus.QUEUED}.values()
        )
        return out + self._release(now)

    def _fleet_tick_due(self, now: datetime) -> bool:
        last = self._fleet_ticked
        if last is None or now < last:
            return True
        if self.fleet_tick_share is None:
            return True
        return now - last >= self._fleet_tick_took / self.fleet_tick_share

    def _fleet_tick(self, now: datetime, waiting: list[TransportTask]) -> list[Output]:
        self._fleet_ticked = now
        for serial, agv in self.agvs.items():
            self._observe(serial, agv, now)  # readiness and contact change with time alone
        result = self.fleet.tick(
            now, [(t.task_id, t.source, t.destination, t.priority) for t in waiting]
        )
        self._fleet_tick_took = timedelta(milliseconds=result.timings.total_ms)
        out: list[Output] = [Metric("traffic_violations", v.kind.value) for v in result.violations]
        for trip in result.trips:
            agv = self.agvs[trip.agv_id]
            for task_id in trip.task_ids:  # one: the edge's AGVs carry one tote (capacity 1)
                out += self._assign(self.tasks[task_id], agv, now)
        return out

    def _observe(self, serial: str, agv: Agv, now: datetime) -> list[Output]:
        """What the fleet needs of the AGV's last state: where it is (freeing what it has
        passed), whether it is in contact, failed, working, loaded, and free for work."""
        if agv.state is None:
            return []
        violation = self.fleet.observe(
            serial,
            agv.state,
            now=now,
            online=agv.connection is ConnectionState.ONLINE and not agv.stale(now),
            takes_work=agv.dispatchable(now),
        )
        if violation is None:
            return []
        return [
            Metric("traffic_violations", violation.kind.value),
            Notice(f"AGV {serial}: {violation.kind.value} at {agv.state.last_node_id}"),
        ]

    def _carry_home(self, task: TransportTask, now: datetime) -> list[Output]:
        """Send the AGV carrying the tote home with it, once it is free again; unless its
        loads show the tote is no longer on it (taken off by hand while it was down)."""
        assert task.carried_by is not None
        agv = self.agvs[task.carried_by]
        if not agv.free(now) or agv.state is None or not self.fleet.knows(agv.serial_number):
            return []
        if agv.state.load_ids is not None and task.tote_id not in agv.state.load_ids:
            self.tote_at[task.tote_id] = TOTE_LOST
            return self._fail_task(task, "tote_off_agv")
        drop = Stop(self.fleet.index(task.destination), StopKind.DROP, (task.task_id,))
        self.fleet.assign(agv.serial_number, [drop])
        return self._assign(task, agv, now)

    def _assign(self, task: TransportTask, agv: Agv, now: datetime) -> list[Output]:
        """The task's order goes to the AGV: what the kernel holds for it released, the rest
        of its trip as the horizon. Not sent (see the notice): the task waits for the next
        tick, and the AGV's trip ends."""
        serial = agv.serial_number
        if not agv.master.may_send_order(now):
            self.fleet.abandon(serial)  # minOrderInterval: dispatched again next tick
            return []
        task.attempts += 1
        base = self.fleet.order(serial).base
        route = self.fleet.route(serial, base, self._stop_action(serial, task))
        sent = agv.master.send_order(task.agv_order_id, route, released=len(base), now=now)
        if not any(isinstance(o, Publish) for o in sent):
            task.attempts -= 1
            self.fleet.abandon(serial)
            return self._from_master(serial, sent, now)
        self.fleet.wire[serial] = WireOrder(task.agv_order_id, route[len(base) - 1], base[-1])
        task.status, task.agv = TaskStatus.ASSIGNED, serial
        agv.task_id = task.task_id
        self._busy_totes.add(task.tote_id)
        return self._from_master(serial, sent, now)

    def _release(self, now: datetime) -> list[Output]:
        """Whatever the kernel granted beyond what each AGV was sent goes out: an update of
        its running order, or, with none running, a move order (parking, giving way)."""
        out: list[Output] = []
        for serial, agv in self.agvs.items():
            if not self.fleet.knows(serial):
                continue
            wire = self.fleet.wire.get(serial)
            tracker = agv.master.order
            running = (
                wire is not None
                and tracker is not None
                and tracker.order_id == wire.order_id
                and not tracker.settled
                and not tracker.cancel_sent
            )
            if not agv.master.may_send_order(now):
                continue  # minOrderInterval: the next state or tick tries again
            if running:
                out += self._extend(serial, agv, now)
            elif agv.task_id is None and agv.free(now):
                out += self._move(serial, agv, now)
        return out

    def _extend(self, serial: str, agv: Agv, now: datetime) -> list[Output]:
        wire = self.fleet.wire[serial]
        tracker = agv.master.order
        new = self.fleet.to_release(serial)
        if not new or tracker is None or not tracker.accepting_updates:
            return []  # nothing granted, or the last message not confirmed yet: later
        task = self.tasks.get(agv.task_id) if agv.task_id else None
        action = self._stop_action(serial, task) if task is not None else None
        if action is not None and action.action_id in tracker.action_ids:
            action = None  # sent with an earlier message of this order
        route = [wire.decision_point, *self.fleet.route(serial, new, action)]
        sent = agv.master.extend_order(route, released=1 + len(new), now=now)
        if any(isinstance(o, Publish) for o in sent):
            wire.decision_point, wire.decision_index = route[len(new)], new[-1]
        return self._from_master(serial, sent, now)

    def _move(self, serial: str, agv: Agv, now: datetime) -> list[Output]:
        """An AGV with no task the fleet moves: to park near demand, out of a station's
        pocket, or out of another's way. Only what is granted, with no horizon: the order is
        done where the grant ends, so the AGV is free for work whenever it stands still."""
        base = self.fleet.order(serial).base
        if len(base) < 2:
            return []
        order_id = self.fleet.next_move_id(serial, self.id_prefix)
        route = self.fleet.route(serial, base, None, horizon=False)
        sent = agv.master.send_order(order_id, route, released=len(base), now=now)
        if any(isinstance(o, Publish) for o in sent):
            self.fleet.wire[serial] = WireOrder(order_id, route[len(base) - 1], base[-1])
        return self._from_master(serial, sent, now)

    def _stop_action(self, serial: str, task: TransportTask) -> ActionSpec | None:
        """The task's work at the AGV's current stop, if that stop is the task's."""
        stop = self.fleet.order(serial).stop
        if stop is None or task.task_id not in stop.task_ids:
            return None
        return stop_action(task, stop.kind)

    def _stop_done(self, task: TransportTask, kind: StopKind) -> None:
        """The AGV finished the task's work at its current stop: on to the next."""
        assert task.agv is not None
        stop = self.fleet.order(task.agv).stop if self.fleet.knows(task.agv) else None
        if stop is not None and stop.kind is kind and task.task_id in stop.task_ids:
            self.fleet.stop_done(task.agv)

    def _abandon_trip(self, task: TransportTask) -> None:
        """The task's AGV will not finish it: the fleet forgets the trip, and the task is
        this controller's to queue again or to fail."""
        if task.agv is None or not self.fleet.knows(task.agv):
            return
        trip = self.fleet.control.trip(task.agv)
        if trip is not None and task.task_id in trip.task_ids():
            self.fleet.abandon(task.agv)

    def _least_busy_station(self) -> str:
        open_orders = Counter(
            o.station_id
            for o in self.orders.values()
            if o.stage in (Stage.PICKING, Stage.PICKED, Stage.VERIFYING)
        )
        return min(self.site.stations, key=lambda s: (open_orders[s.id], s.id)).id

    def _agv(self, serial: str) -> Agv:
        try:
            return self.agvs[serial]
        except KeyError:
            raise UnknownDevice("AGV", serial) from None

    def require_station(self, station_id: str) -> None:
        if station_id not in self.checks:
            raise UnknownDevice("station", station_id)
