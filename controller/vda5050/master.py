"""`AgvMaster`: the master control for one AGV, driven by the edge adapter.

Inputs: the decoded JSON of `state`/`connection`/`factsheet` messages (`on_*`), commands from
the planner (`send_order`, `extend_order`, `cancel_order`, `send_instant_actions`), and
`tick(now)` for timeouts. Each returns outputs: `Publish` (QoS 0, not retained) and events.
Nothing here reads a clock: `now` is always passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from controller.domain.messages import ActionStatus
from controller.vda5050.acceptance import Delivery, OrderTracker, ResendPolicy
from controller.vda5050.actions import ActionSpec, BlockingType
from controller.vda5050.errors import InvalidId, InvalidInstantAction, InvalidOrder
from controller.vda5050.events import (
    BaseExtensionDue,
    Incident,
    IncidentKind,
    InstantActionEnded,
    InstantActionsRefused,
    OrderAccepted,
    OrderCancelled,
    OrderCompleted,
    OrderFailed,
    OrderRefused,
    OrderRejected,
    Output,
    Publish,
    encode,
)
from controller.vda5050.factsheet import parse_factsheet
from controller.vda5050.headers import AgvAddress, HeaderCounter, Topic
from controller.vda5050.ids import IdFactory, uuid_ids
from controller.vda5050.inbound import StateMessage, parse_connection, parse_state
from controller.vda5050.instant_actions import (
    CANCEL_ORDER,
    RECOVERY_ACTIONS,
    WAIT_FOR_TRIGGER_TIMEOUT,
    InstantActionTracker,
    TriggerWatch,
    conflict,
    make_actions,
)
from controller.vda5050.order_builder import EdgeSpec, NodeSpec, Order, build_order
from controller.vda5050.order_updates import build_update
from controller.vda5050.vehicle import STALE_MARGIN, Blocker, Readiness, VehicleView


@dataclass(frozen=True, slots=True)
class MasterConfig:
    order_resend: ResendPolicy = field(default_factory=ResendPolicy)
    instant_resend: ResendPolicy = field(default_factory=ResendPolicy)
    stale_margin: timedelta = STALE_MARGIN
    wait_for_trigger_timeout: timedelta = WAIT_FOR_TRIGGER_TIMEOUT
    lookahead_nodes: int = 1  # released nodes left ahead when we ask to extend the base


class AgvMaster:
    def __init__(
        self,
        address: AgvAddress,
        *,
        config: MasterConfig | None = None,
        new_id: IdFactory | None = None,
        header_ids: Mapping[Topic, int] | None = None,
    ) -> None:
        self.address = address
        self.config = config or MasterConfig()
        self.new_id = new_id or uuid_ids()
        self.headers = HeaderCounter(address, dict(header_ids or {}))
        self.vehicle = VehicleView(address, self.config.stale_margin)
        self.order: OrderTracker | None = None
        self.instant = InstantActionTracker()
        self.triggers = TriggerWatch(self.config.wait_for_trigger_timeout)
        self.last_order_sent_at: datetime | None = None
        self.factsheet_requested = False
        self._extension_asked: tuple[str, int, bool] | None = None

    @property
    def serial_number(self) -> str:
        return self.address.serial_number

    @property
    def header_ids(self) -> dict[Topic, int]:
        """The next headerId per topic: persist it to continue the counters (item 9)."""
        return dict(self.headers.next_ids)

    # --- publishing ------------------------------------------------------------------------

    def _publish(self, topic: Topic, body: dict[str, Any], now: datetime) -> Publish:
        message = self.headers.header(topic, now) | body
        return Publish(topic, self.address.topic(topic), message)

    def _too_long(self, topic: Topic, body: dict[str, Any], now: datetime) -> str | None:
        """Item 28: `protocolLimits.maxStringLens.msgLen`, measured on the encoded message."""
        limit = self.vehicle.capabilities.msg_len
        if limit is None:
            return None
        size = len(encode(self.headers.header(topic, now, consume=False) | body))
        return f"message of {size} bytes, the AGV takes at most {limit}" if size > limit else None

    def may_send_order(self, now: datetime) -> bool:
        """Whether `minOrderInterval` (item 28) has passed since the last order message:
        callers that send often (base extensions) wait for it rather than be refused."""
        return self._too_soon(now) is None

    def _too_soon(self, now: datetime) -> str | None:
        """Item 28: `timing.minOrderInterval` between two `order` messages."""
        interval = self.vehicle.capabilities.min_order_interval
        last = self.last_order_sent_at
        if last is not None and now - last < interval:
            return f"minOrderInterval: not before {(last + interval).isoformat()}"
        return None

    # --- commands --------------------------------------------------------------------------

    def readiness(self, now: datetime, *, charging_order: bool = False) -> Readiness:
        return self.vehicle.readiness(now, charging_order=charging_order)

    def send_order(
        self,
        order_id: str,
        route: Sequence[NodeSpec],
        *,
        released: int,
        now: datetime,
        edges: Sequence[EdgeSpec] | None = None,
        charging_order: bool = False,
    ) -> list[Output]:
        """A new orderId (items 17-30): only to a ready (24, 48, 58-60, 70) and idle (23) AGV."""

        def refused(reason: str) -> list[Output]:
            return [OrderRefused(self.serial_number, order_id, reason)]

        ready = self.readiness(now, charging_order=charging_order)
        if not ready.ready:
            return refused("not ready: " + ", ".join(b.value for b in ready.blockers))
        state = self.vehicle.state
        assert state is not None  # ready implies a state
        if order_id == state.order_id or (self.order and self.order.order_id == order_id):
            return refused("this orderId was sent already: update it with extend_order")
        if not self.vehicle.idle(self.instant.action_ids) or self.instant.cancel_pending():
            return refused("the AGV is not idle: update or cancel its order first")
        too_soon = self._too_soon(now)
        if too_soon:
            return refused(too_soon)
        try:
            order = build_order(
                order_id,
                route,
                released=released,
                last_node_id=state.last_node_id,
                position=self.vehicle.position,
                caps=self.vehicle.capabilities,
                new_id=self.new_id,
                edges=edges,
                maps=state.maps,
            )
        except (InvalidOrder, InvalidId) as exc:
            return refused(str(exc))
        return self._send(order, now, new=True)

    def extend_order(
        self,
        route: Sequence[NodeSpec],
        *,
        released: int,
        now: datetime,
        edges: Sequence[EdgeSpec] | None = None,
    ) -> list[Output]:
        """An update of the running order (items 32-37); `route[0]` is the decision point."""
        tracker = self.order
        if tracker is None:
            return [OrderRefused(self.serial_number, "", "no order to update")]

        def refused(reason: str) -> list[Output]:
            return [OrderRefused(self.serial_number, tracker.order_id, reason)]

        if tracker.cancel_sent:
            return refused("cancelOrder was sent for it")  # item 39
        if tracker.delivery is not Delivery.ACCEPTED or tracker.settled:
            return refused(f"the last message is {tracker.delivery.value}, not accepted")
        # Extending the base of a charging or paused AGV is harmless: it drives on later.
        idle_ok = (Blocker.CHARGING, Blocker.PAUSED)
        blockers = [b for b in self.readiness(now).blockers if b not in idle_ok]
        if blockers:
            return refused("not ready: " + ", ".join(b.value for b in blockers))
        too_soon = self._too_soon(now)
        if too_soon:
            return refused(too_soon)
        state = self.vehicle.state
        try:
            update = build_update(
                tracker.order,
                route,
                released=released,
                caps=self.vehicle.capabilities,
                new_id=self.new_id,
                state=state,
                edges=edges,
                maps=state.maps if state else None,
            )
        except (InvalidOrder, InvalidId) as exc:
            return refused(str(exc))
        return self._send(update, now, new=False)

    def _send(self, order: Order, now: datetime, *, new: bool) -> list[Output]:
        body = order.to_json()
        too_long = self._too_long(Topic.ORDER, body, now)
        if too_long:
            return [OrderRefused(self.serial_number, order.order_id, too_long)]
        publish = self._publish(Topic.ORDER, body, now)
        header_id = publish.message["headerId"]
        if new or self.order is None:
            self.order = OrderTracker(order, now, [header_id])
            self.triggers = TriggerWatch(self.config.wait_for_trigger_timeout)
            self._extension_asked = None
        else:
            self.order.sent(order, header_id, now)
        self.triggers.expect(order)
        self.last_order_sent_at = now
        return [publish]

    def cancel_order(self, now: datetime) -> list[Output]:
        """`cancelOrder` for the running order; nothing more is sent for it (item 39)."""
        return self.send_instant_actions([ActionSpec(CANCEL_ORDER, BlockingType.NONE)], now)

    def send_instant_actions(self, specs: Sequence[ActionSpec], now: datetime) -> list[Output]:
        """Items 24, 26, 27, 41, 42: checked, sent, and then watched until echoed (43)."""
        types = tuple(s.action_type for s in specs)

        def refused(reason: str) -> list[Output]:
            return [InstantActionsRefused(self.serial_number, types, reason)]

        try:
            actions = make_actions(specs, self.vehicle.capabilities, self.new_id)
        except (InvalidInstantAction, InvalidId) as exc:
            return refused(str(exc))
        state = self.vehicle.state
        if not set(types) <= RECOVERY_ACTIONS and (
            state is None or state.operating_mode not in ("AUTOMATIC", "SEMIAUTOMATIC")
        ):
            return refused("operating mode is not AUTOMATIC or SEMIAUTOMATIC")  # item 24
        tracker = self.order
        active = state is not None and not self.vehicle.idle(self.instant.action_ids)
        why = conflict(actions, tracker.order if tracker else None, active)
        if why:
            return refused(why)
        body = {"actions": [a.to_json() for a in actions]}
        too_long = self._too_long(Topic.INSTANT_ACTIONS, body, now)
        if too_long:
            return refused(too_long)
        cancelling = any(a.action_type == CANCEL_ORDER for a in actions)
        order_id = tracker.order_id if tracker else (state.order_id if state else None)
        if cancelling and tracker is not None:
            tracker.cancel_sent = True
        self.instant.sent(actions, now, order_id if cancelling else None)
        return [self._publish(Topic.INSTANT_ACTIONS, body, now)]

    # --- inputs ----------------------------------------------------------------------------

    def on_connection(self, message: Mapping[str, Any], now: datetime) -> list[Output]:
        """Item 73: an AGV coming ONLINE without a (retained) factsheet is asked for one;
        it is asked for a state as well, since states are not retained."""
        was_online = self.vehicle.online
        out: list[Output] = list(self.vehicle.apply_connection(parse_connection(message)))
        if self.vehicle.online and not was_online:
            wanted = [ActionSpec("stateRequest", BlockingType.NONE)]
            if not self.vehicle.capabilities.from_factsheet and not self.factsheet_requested:
                wanted.append(ActionSpec("factsheetRequest", BlockingType.NONE))
                self.factsheet_requested = True
            out += self.send_instant_actions(wanted, now)
        return out

    def on_factsheet(self, message: Mapping[str, Any], now: datetime) -> list[Output]:
        manufacturer = message.get("manufacturer")
        serial = message.get("serialNumber")
        caps = parse_factsheet(message)
        return list(self.vehicle.apply_factsheet(str(manufacturer), str(serial), caps))

    def on_state(self, message: Mapping[str, Any], now: datetime) -> list[Output]:
        """A `state`; `MalformedMessage` if it lacks what we rely on (the edge counts and
        drops those)."""
        state = parse_state(message)
        processed, events = self.vehicle.apply_state(state, now)
        out: list[Output] = list(events)
        if not processed:
            return out
        out += self._instant_actions_ended(state)
        tracker = self.order
        if tracker is not None:
            out += self._delivery(tracker, state)
            self.triggers.on_state(state, now)
            out += self._outcome(tracker, state)
            out += self._base_extension(tracker, state)
        return out

    def _instant_actions_ended(self, state: StateMessage) -> list[Output]:
        out: list[Output] = []
        for action, status in self.instant.on_state(state):
            errors = self.vehicle.errors_about(action_ids=frozenset({action.action_id}))
            out.append(
                InstantActionEnded(
                    self.serial_number, action.action_id, action.action_type, status, errors
                )
            )
            cancelled = self.instant.cancels.get(action.action_id)
            tracker = self.order
            if (
                status is ActionStatus.FINISHED  # item 44: only FINISHED counts
                and cancelled is not None
                and tracker is not None
                and tracker.order_id == cancelled
                and not tracker.settled
            ):
                tracker.settled = True
                out.append(OrderCancelled(self.serial_number, cancelled))
        return out

    def _delivery(self, tracker: OrderTracker, state: StateMessage) -> list[Output]:
        order = tracker.order
        rejection = tracker.rejection(state) if tracker.delivery is Delivery.PENDING else ()
        result = tracker.on_state(state)
        if result is Delivery.ACCEPTED:
            return [OrderAccepted(self.serial_number, order.order_id, order.order_update_id)]
        if result is Delivery.REJECTED:  # item 40
            detail = "; ".join(f"{e.error_type}: {e.description}" for e in rejection)
            return [
                OrderRejected(self.serial_number, order.order_id, order.order_update_id, rejection),
                Incident(self.serial_number, IncidentKind.ORDER_REJECTED, detail, order.order_id),
            ]
        return []

    def _outcome(self, tracker: OrderTracker, state: StateMessage) -> list[Output]:
        """Item 66: no "failed" state exists in 2.x; derive it from FAILED actions and FATAL
        errors referencing the order or its actions. A halted AGV is not failed (item 60)."""
        if (
            tracker.settled
            or tracker.cancel_sent
            or tracker.delivery is not Delivery.ACCEPTED
            or state.order_id != tracker.order_id
        ):
            return []
        statuses = {a.action_id: a.status for a in state.action_states}
        failed = sorted(a for a in tracker.action_ids if statuses.get(a) is ActionStatus.FAILED)
        fatal = [
            e
            for e in self.vehicle.errors_about(
                order_id=tracker.order_id, action_ids=frozenset(tracker.action_ids)
            )
            if e.level == "FATAL"
        ]
        if failed or fatal:
            tracker.settled = True
            reasons = tuple(f"action {a} FAILED" for a in failed) + tuple(
                f"{e.error_type}: {e.description}" for e in fatal
            )
            return [OrderFailed(self.serial_number, tracker.order_id, reasons)]
        done = all(statuses.get(a) is ActionStatus.FINISHED for a in tracker.action_ids)
        if (
            done
            and not tracker.order.has_horizon
            and state.order_update_id == tracker.order.order_update_id
            and self.vehicle.idle(self.instant.action_ids)
        ):
            tracker.settled = True
            return [OrderCompleted(self.serial_number, tracker.order_id)]
        return []

    def _base_extension(self, tracker: OrderTracker, state: StateMessage) -> list[Output]:
        """Item 37: ask the planner for more base at once on `newBaseRequest`, and ahead of
        the decision point while a horizon is waiting."""
        if not tracker.accepting_updates or state.order_id != tracker.order_id:
            return []
        ahead = sum(1 for n in state.node_states if n.released)
        requested = state.new_base_request
        if not requested and not (
            tracker.order.has_horizon and ahead <= self.config.lookahead_nodes
        ):
            return []
        key = (tracker.order_id, tracker.order.order_update_id, requested)
        if key == self._extension_asked:
            return []
        self._extension_asked = key
        return [
            BaseExtensionDue(
                self.serial_number, tracker.order_id, tracker.order.order_update_id, requested
            )
        ]

    # --- time --------------------------------------------------------------------------------

    def tick(self, now: datetime) -> list[Output]:
        """Resends (items 38, 43) and waitForTrigger timeouts (47). While the AGV is not
        ONLINE nothing is resent and no retry is used up (item 70: it may still be driving)."""
        out: list[Output] = []
        if self.vehicle.online:
            out += self._resend_order(now)
            out += self._resend_instant_actions(now)
        tracker = self.order
        expired = self.triggers.expired(now)
        if expired and tracker is not None and not tracker.cancel_sent:
            out.append(
                Incident(
                    self.serial_number,
                    IncidentKind.WAIT_FOR_TRIGGER_TIMEOUT,
                    f"waitForTrigger {', '.join(expired)} not triggered in time",
                    tracker.order_id,
                )
            )
            out += self.cancel_order(now)
        return out

    def _resend_order(self, now: datetime) -> list[Output]:
        tracker = self.order
        if tracker is None:
            return []
        due = tracker.resend_due(now, self.config.order_resend)
        if due is None or (due and self._too_soon(now)):
            return []
        if not due:
            detail = (
                f"update {tracker.order.order_update_id} not confirmed after {tracker.sends} sends"
            )
            return [
                Incident(
                    self.serial_number,
                    IncidentKind.ORDER_NOT_ACCEPTED,
                    detail,
                    tracker.order_id,
                )
            ]
        publish = self._publish(Topic.ORDER, tracker.order.to_json(), now)
        tracker.resent(publish.message["headerId"], now)
        self.last_order_sent_at = now
        return [publish]

    def _resend_instant_actions(self, now: datetime) -> list[Output]:
        resend, given_up = self.instant.due(now, self.config.instant_resend)
        out: list[Output] = []
        if resend:
            body = {"actions": [a.to_json() for a in resend]}
            out.append(self._publish(Topic.INSTANT_ACTIONS, body, now))
        if given_up:
            ids = ", ".join(f"{a.action_type} {a.action_id}" for a in given_up)
            out.append(
                Incident(
                    self.serial_number,
                    IncidentKind.INSTANT_ACTIONS_NOT_ECHOED,
                    f"no actionState for {ids}",
                )
            )
        return out
