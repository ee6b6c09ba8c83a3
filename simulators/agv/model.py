"""A tote-carrying AGV speaking VDA 5050 2.1, as a pure model.

No I/O and no clock: every entry point takes `now` (sim seconds). The shell publishes a
`state` whenever `take_state_trigger()` says a trigger event happened (VDA 5050 §6.10),
and a factsheet when `take_factsheet_request()` says so.

Behaviour choices where VDA 5050 2.1 leaves room (a real vehicle has to pick one):
- The first node of a new order must be the node the vehicle stands on (or within the
  node's `allowedDeviationXY`); otherwise, like any malformed order, `validationError`.
- Edges must join nodes that are neighbours on the vehicle's map: `validationError`.
- A new `orderId` while the previous order still has nodes, edges or unfinished actions is
  rejected with `orderUpdateError`; the previous order continues.
- Node actions run one after another, each blocking driving (pick/drop are HARD anyway):
  WAITING → INITIALIZING → RUNNING → FINISHED, or → FAILED.
- A failed action (no tote to pick, no tote to drop) aborts the order: the vehicle stays
  on that node, the remaining actions go FAILED, `nodeStates`/`edgeStates` are emptied, and
  an error (WARNING) referencing the order and action stays until a new order is accepted.
- `cancelOrder` while driving stops at the end of the current edge.
- `startPause` stops the vehicle where it is (also mid-edge) and freezes the running
  action (RUNNING → PAUSED; an INITIALIZING one just waits); `stopPause` resumes both.
  A `cancelOrder` while paused finishes after `stopPause`, at the end of the edge.
- `startCharging` works only standing on a `charger` node; while charging the vehicle does
  not start driving.

Injected faults (`inject_fatal_error`, `set_speed_factor`, `refuse_next_orders`) are plain
inputs like any other; the connection-loss fault belongs to the shell.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from simulators.agv.factsheet import (
    INSTANT_ACTION_TYPES,
    LOAD_POSITION,
    LOAD_TYPE,
    factsheet_body,
)
from simulators.agv.orders import (
    Action,
    Edge,
    Node,
    Order,
    Refs,
    Rejection,
    action_params,
    is_number,
    parse_order,
)
from simulators.common.config import SiteMap
from simulators.common.world import World, WorldError

VDA_VERSION = "2.1.0"
BATTERY_DRAIN_DRIVING_PCT_PER_S = 0.004  # ~14 %/h of driving: a demo never gets near 50 %
BATTERY_DRAIN_IDLE_PCT_PER_S = 0.0005
BATTERY_CHARGE_PCT_PER_S = 0.05  # 3 %/min: a charge from 40 % takes 20 sim minutes
CHARGER_KIND = "charger"  # site node kind where `startCharging` can succeed
ON_NODE_M = 0.01  # closer than this to a node's position counts as standing on it
FINAL = ("FINISHED", "FAILED")


@dataclass(frozen=True)
class AgvDurations:
    """Sim seconds."""

    action_init_s: float = 0.5
    pick_s: float = 4.0
    drop_s: float = 3.0


@dataclass
class _ActionState:
    action_id: str
    action_type: str
    status: str
    result: str | None = None
    is_instant: bool = False


@dataclass
class _Running:
    action: Action
    node_id: str
    phase: str  # "init" | "run"
    ends_at: float
    paused_left: float | None = None  # sim seconds still to go, while paused


@dataclass
class _Drive:
    edge: Edge
    node: Node
    origin: tuple[float, float]  # where the edge began: for distanceSinceLastNode
    start: tuple[float, float]  # where this leg began (a pause or new speed starts a leg)
    started_at: float
    ends_at: float
    speed: float
    halted: bool = False  # paused: standing at `start`


class AgvModel:
    def __init__(
        self,
        *,
        manufacturer: str,
        serial_number: str,
        start_node: str,
        speed_mps: float,
        site_map: SiteMap,
        world: World,
        rng: random.Random,
        durations: AgvDurations | None = None,
    ) -> None:
        self.manufacturer = manufacturer
        self.serial_number = serial_number
        self.speed_mps = speed_mps
        self.map = site_map
        self.world = world
        self.durations = durations or AgvDurations()
        x, y = site_map.positions[start_node]
        self.x, self.y, self.theta = x, y, 0.0
        self.order_id = ""
        self.order_update_id = 0
        self.last_node_id = start_node
        self.last_node_sequence_id = 0
        self.driving = False
        self.paused = False
        self.charging = False
        self.battery = round(rng.uniform(85.0, 98.0), 1)
        self.loads: list[str] = []
        self.errors: list[dict[str, Any]] = []
        self.speed_factor = 1.0  # injected slow driving
        self._refusals = 0  # injected: orders still to refuse
        self._nodes: list[Node] = []  # not yet traversed, base then horizon
        self._edges: list[Edge] = []
        self._actions: dict[str, _ActionState] = {}
        self._pending: deque[Action] = deque()  # actions of the node the vehicle stands on
        self._running: _Running | None = None
        self._drive: _Drive | None = None
        self._cancel_id: str | None = None
        self._cursor = 0.0  # sim time of the last transition; chains start from here
        self._battery_at = 0.0
        self._state_trigger = True
        self._factsheet_requested = False

    # ---- outputs ----------------------------------------------------------------------

    def take_state_trigger(self) -> bool:
        triggered, self._state_trigger = self._state_trigger, False
        return triggered

    def take_factsheet_request(self) -> bool:
        requested, self._factsheet_requested = self._factsheet_requested, False
        return requested

    def next_due(self) -> float | None:
        running, drive = self._running, self._drive
        if running is not None:
            return None if running.paused_left is not None else running.ends_at
        if drive is not None:
            return None if drive.halted else drive.ends_at
        return None

    def header(self, header_id: int, timestamp: str) -> dict[str, Any]:
        return {
            "headerId": header_id,
            "timestamp": timestamp,
            "version": VDA_VERSION,
            "manufacturer": self.manufacturer,
            "serialNumber": self.serial_number,
        }

    def connection(self, connection_state: str, header_id: int, timestamp: str) -> dict[str, Any]:
        return {**self.header(header_id, timestamp), "connectionState": connection_state}

    def state(self, now: float, header_id: int, timestamp: str) -> dict[str, Any]:
        self._update_battery(now)
        x, y = self.position(now)
        drive = self._drive
        moving = drive is not None and not drive.halted
        return {
            **self.header(header_id, timestamp),
            "maps": [{"mapId": self.map.map_id, "mapVersion": "1", "mapStatus": "ENABLED"}],
            "orderId": self.order_id,
            "orderUpdateId": self.order_update_id,
            "lastNodeId": self.last_node_id,
            "lastNodeSequenceId": self.last_node_sequence_id,
            "nodeStates": [
                {"nodeId": n.node_id, "sequenceId": n.sequence_id, "released": n.released}
                for n in self._nodes
            ],
            "edgeStates": [
                {"edgeId": e.edge_id, "sequenceId": e.sequence_id, "released": e.released}
                for e in self._edges
            ],
            "agvPosition": {
                "x": round(x, 3),
                "y": round(y, 3),
                "theta": round(self.theta, 4),
                "mapId": self.map.map_id,
                "positionInitialized": True,
                "localizationScore": 1.0,
            },
            "velocity": {
                "vx": round(drive.speed, 3) if drive is not None and moving else 0.0,
                "vy": 0.0,
                "omega": 0.0,
            },
            "loads": [
                {"loadId": load, "loadType": LOAD_TYPE, "loadPosition": LOAD_POSITION}
                for load in self.loads
            ],
            "driving": self.driving,
            "paused": self.paused,
            "newBaseRequest": False,
            "distanceSinceLastNode": round(self._distance_since_last_node(now), 3),
            "actionStates": [_action_state(a) for a in self._actions.values()],
            "batteryState": {
                "batteryCharge": round(self.battery, 2),
                "batteryVoltage": round(44.0 + 0.08 * self.battery, 2),
                "charging": self.charging,
            },
            "operatingMode": "AUTOMATIC",
            "errors": [dict(e) for e in self.errors],
            "information": [],
            "safetyState": {"eStop": "NONE", "fieldViolation": False},
        }

    def factsheet(self, header_id: int, timestamp: str) -> dict[str, Any]:
        return {
            **self.header(header_id, timestamp),
            **factsheet_body(
                speed_mps=self.speed_mps,
                pick_time_s=self.durations.action_init_s + self.durations.pick_s,
                drop_time_s=self.durations.action_init_s + self.durations.drop_s,
            ),
        }

    def position(self, now: float) -> tuple[float, float]:
        drive = self._drive
        if drive is None:
            return self.x, self.y
        if drive.halted:
            return drive.start
        span = drive.ends_at - drive.started_at
        frac = 1.0 if span <= 0 else min(1.0, max(0.0, (now - drive.started_at) / span))
        (x0, y0), (x1, y1) = drive.start, (drive.node.x, drive.node.y)
        return x0 + (x1 - x0) * frac, y0 + (y1 - y0) * frac

    @property
    def has_fatal_error(self) -> bool:
        return any(e["errorLevel"] == "FATAL" for e in self.errors)

    # ---- inputs -----------------------------------------------------------------------

    def receive_order(self, message: Any, now: float) -> None:
        self._sync(now)
        header_id = message.get("headerId") if isinstance(message, dict) else None
        try:
            order = parse_order(message, self.map)
            if order.order_id == self.order_id:
                if order.order_update_id < self.order_update_id:
                    raise Rejection(
                        "orderUpdateError",
                        f"orderUpdateId {order.order_update_id} is lower than current "
                        f"orderUpdateId {self.order_update_id}",
                        order.references(),
                    )
                if order.order_update_id == self.order_update_id:
                    return  # a repeat of what the vehicle already has: ignored (§6.6.4.3)
                self._check_stitching(order)
                self._check_can_take(order)
                self._accept_update(order)
            else:
                if self._has_active_order():
                    raise Rejection(
                        "orderUpdateError",
                        f"order {self.order_id} is still being executed; cancel it first",
                        order.references(),
                    )
                self._check_first_node(order)
                self._check_can_take(order)
                self._accept_new(order)
        except Rejection as rejection:
            refs = [("headerId", str(header_id)), ("topic", "order")]
            keys = {k for k, _ in refs}
            refs += [(k, v) for k, v in rejection.references if k not in keys]
            self._add_error(rejection.error_type, rejection.description, refs)
        self.advance(now)

    def receive_instant_actions(self, message: Any, now: float) -> None:
        self._sync(now)
        actions = message.get("actions") if isinstance(message, dict) else None
        if not isinstance(actions, list):
            header_id = message.get("headerId") if isinstance(message, dict) else None
            self._add_error(
                "validationError",
                "instantActions without an `actions` array",
                [("headerId", str(header_id)), ("topic", "instantActions")],
            )
            return
        for raw in actions:
            if not (
                isinstance(raw, dict)
                and isinstance(raw.get("actionId"), str)
                and isinstance(raw.get("actionType"), str)
            ):
                self._add_error(
                    "validationError",
                    "instant action without actionId/actionType",
                    [("topic", "instantActions")],
                )
                continue
            self._instant_action(raw["actionId"], raw["actionType"], action_params(raw), now)
        self._state_trigger = True  # also for stateRequest (§6.8.2)
        self.advance(now)

    def advance(self, now: float) -> None:
        self._update_battery(now)
        while self._step(now):
            pass

    # ---- injected faults --------------------------------------------------------------

    def inject_fatal_error(
        self,
        now: float,
        *,
        error_type: str = "driveFault",
        description: str = "drive unit fault: vehicle stopped, operator needed",
    ) -> None:
        """The vehicle stops where it is (also mid-edge) and cannot go on: the running and
        waiting actions fail, the rest of the order is dropped, and a FATAL error stays until
        `clear_fatal_error`. Orders are refused meanwhile (`orderError`)."""
        self._sync(now)
        refs: Refs = [("orderId", self.order_id), ("nodeId", self.last_node_id)]
        if self._drive is not None:
            refs.append(("edgeId", self._drive.edge.edge_id))
            self.x, self.y = self.position(now)
            self._drive = None
        running = self._running
        if running is not None:
            refs.append(("actionId", running.action.action_id))
            self._set_status(running.action.action_id, "FAILED", "fatal error")
            self._running = None
        self._abandon_order("fatal error")
        if self._cancel_id is not None:
            self._finish_cancel()
        self._set_driving(False)
        self._add_error(error_type, description, refs, level="FATAL")
        self._cursor = now

    def clear_fatal_error(self, now: float) -> None:
        """An operator fixed the vehicle: it takes orders again from where it stands."""
        self._sync(now)
        before = len(self.errors)
        self.errors = [e for e in self.errors if e["errorLevel"] != "FATAL"]
        if len(self.errors) != before:
            self._state_trigger = True

    def set_speed_factor(self, factor: float, now: float) -> None:
        """Slow (or fast) driving: every speed is multiplied by `factor`, from `now` on."""
        if not (is_number(factor) and factor > 0):
            raise ValueError(f"speed factor must be positive, got {factor}")
        self._sync(now)
        self.speed_factor = factor
        drive = self._drive
        if drive is not None and not drive.halted:
            self._new_leg(drive, self.position(now), now)
        self._state_trigger = True

    def refuse_next_orders(self, count: int = 1) -> None:
        """The next `count` orders that would be accepted are rejected with `orderError`."""
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        self._refusals = count

    # ---- orders -----------------------------------------------------------------------

    def _check_first_node(self, order: Order) -> None:
        first = order.nodes[0]
        if first.node_id == self.last_node_id and self._drive is None:
            return
        deviation = order.allowed_deviation_xy
        if deviation is not None and math.hypot(first.x - self.x, first.y - self.y) <= deviation:
            return
        raise Rejection(
            "validationError",
            f"first node {first.node_id} is not the vehicle's current node {self.last_node_id}",
            [("orderId", order.order_id), ("nodeId", first.node_id)],
        )

    def _check_can_take(self, order: Order) -> None:
        """The vehicle's own reasons to refuse a valid order."""
        if self.has_fatal_error:
            raise Rejection(
                "orderError",
                "vehicle has a FATAL error; no orders until it is cleared",
                order.references(),
            )
        if self._refusals > 0:
            self._refusals -= 1
            raise Rejection("orderError", "vehicle refuses the order", order.references())

    def _accept_new(self, order: Order) -> None:
        self.errors.clear()
        self.order_id = order.order_id
        self.order_update_id = order.order_update_id
        self._actions = {
            a.action_id: _ActionState(a.action_id, a.action_type, "WAITING")
            for n in order.nodes
            for a in n.actions
        }
        first = order.nodes[0]
        self.last_node_id, self.last_node_sequence_id = first.node_id, first.sequence_id
        self._nodes, self._edges = order.nodes[1:], list(order.edges)
        self._pending = deque(first.actions)
        self._cancel_id = None
        self._state_trigger = True

    def _check_stitching(self, order: Order) -> None:
        """An update starts at the decision point: the end of the base (§6.6.2)."""
        base = [n for n in self._nodes if n.released]
        if base:
            decision_id, decision_seq = base[-1].node_id, base[-1].sequence_id
        else:
            decision_id, decision_seq = self.last_node_id, self.last_node_sequence_id
        first = order.nodes[0]
        if (first.node_id, first.sequence_id) != (decision_id, decision_seq):
            raise Rejection(
                "orderUpdateError",
                f"update starts at {first.node_id}/{first.sequence_id}, "
                f"not at the end of the base {decision_id}/{decision_seq}",
                order.references(),
            )

    def _accept_update(self, order: Order) -> None:
        base = [n for n in self._nodes if n.released]
        self.errors.clear()
        self.order_update_id = order.order_update_id
        # the old horizon is replaced: its actions go unless the update sends them again
        for node in self._nodes:
            if not node.released:
                for action in node.actions:
                    self._actions.pop(action.action_id, None)
        self._nodes = base + order.nodes[1:]
        self._edges = [e for e in self._edges if e.released] + order.edges
        for node in order.nodes[1:]:
            for action in node.actions:
                self._actions[action.action_id] = _ActionState(
                    action.action_id, action.action_type, "WAITING"
                )
        self._state_trigger = True

    def _add_error(
        self, error_type: str, description: str, refs: Refs, *, level: str = "WARNING"
    ) -> None:
        error = {
            "errorType": error_type,
            "errorLevel": level,
            "errorDescription": description,
            "errorReferences": [{"referenceKey": k, "referenceValue": v} for k, v in refs],
        }
        # a resent bad order replaces its earlier error instead of piling up copies
        self.errors = [
            e
            for e in self.errors
            if (e["errorType"], e["errorDescription"]) != (error_type, description)
        ]
        self.errors.append(error)
        self._state_trigger = True

    def _has_active_order(self) -> bool:
        return bool(
            self._nodes
            or self._edges
            or self._pending
            or self._running
            or self._drive
            or any(a.status not in FINAL for a in self._actions.values() if not a.is_instant)
        )

    # ---- instant actions --------------------------------------------------------------

    def _instant_action(
        self, action_id: str, action_type: str, params: dict[str, Any], now: float
    ) -> None:
        state = _ActionState(action_id, action_type, "WAITING", is_instant=True)
        self._actions[action_id] = state
        if action_type not in INSTANT_ACTION_TYPES:
            state.status, state.result = "FAILED", f"instant action {action_type} is not supported"
            return
        match action_type:
            case "cancelOrder":
                self._cancel_order(state)
            case "stateRequest":
                state.status = "FINISHED"
            case "factsheetRequest":
                state.status = "FINISHED"
                self._factsheet_requested = True
            case "initPosition":
                self._init_position(state, params)
            case "startPause":
                self._pause(now)
                state.status = "FINISHED"
            case "stopPause":
                self._resume(now)
                state.status = "FINISHED"
            case "startCharging":
                self._start_charging(state)
            case "stopCharging":
                self.charging = False
                state.status = "FINISHED"

    def _cancel_order(self, state: _ActionState) -> None:
        if not self._has_active_order() or self._cancel_id is not None:
            state.status, state.result = "FAILED", "no order to cancel"
            self._add_error(
                "noOrderToCancel",
                "cancelOrder received without an active order",
                [("actionId", state.action_id), ("orderId", self.order_id)],
            )
            return
        state.status = "RUNNING"  # until the vehicle has stopped (§6.6.3)
        self._cancel_id = state.action_id
        for pending in self._pending:  # waiting actions will never run
            self._set_status(pending.action_id, "FAILED", "order cancelled")
        self._pending.clear()
        for node in self._nodes:
            for waiting in node.actions:
                self._set_status(waiting.action_id, "FAILED", "order cancelled")

    def _init_position(self, state: _ActionState, params: dict[str, Any]) -> None:
        x, y, node_id = params.get("x"), params.get("y"), params.get("lastNodeId")
        map_id = params.get("mapId", self.map.map_id)
        if self._has_active_order() or not (is_number(x) and is_number(y)):
            state.status = "FAILED"
            state.result = "initPosition needs x and y and no active order"
            return
        if map_id != self.map.map_id:
            state.status, state.result = "FAILED", f"map {map_id} is not loaded"
            return
        self.x, self.y = float(x), float(y)
        theta = params.get("theta")
        if is_number(theta):
            self.theta = float(theta)
        # no (or an empty) lastNodeId: the vehicle does not know its last node (§6.10.6)
        self.last_node_id = node_id if isinstance(node_id, str) else ""
        self.last_node_sequence_id = 0
        state.status = "FINISHED"

    def _pause(self, now: float) -> None:
        if self.paused:
            return
        self.paused = True
        running, drive = self._running, self._drive
        if running is not None:
            running.paused_left = max(0.0, running.ends_at - now)
            if running.phase == "run":
                self._set_status(running.action.action_id, "PAUSED")
        if drive is not None:
            drive.start, drive.started_at, drive.halted = self.position(now), now, True
        self._set_driving(False)

    def _resume(self, now: float) -> None:
        if not self.paused:
            return
        self.paused = False
        running, drive = self._running, self._drive
        if running is not None and running.paused_left is not None:
            running.ends_at, running.paused_left = now + running.paused_left, None
            if running.phase == "run":
                self._set_status(running.action.action_id, "RUNNING")
        if drive is not None and drive.halted:
            drive.halted = False
            self._new_leg(drive, drive.start, now)
            self._set_driving(True)
        self._cursor = max(self._cursor, now)

    def _start_charging(self, state: _ActionState) -> None:
        node_xy = self.map.positions.get(self.last_node_id)
        on_charger = (
            self._drive is None
            and self.map.kinds.get(self.last_node_id) == CHARGER_KIND
            and node_xy is not None
            and math.hypot(node_xy[0] - self.x, node_xy[1] - self.y) < ON_NODE_M
        )
        if not on_charger:
            state.status, state.result = "FAILED", "not standing on a charger"
            self._add_error(
                "chargingError",
                f"cannot charge: not standing on a charger (last node {self.last_node_id})",
                [("actionId", state.action_id), ("nodeId", self.last_node_id)],
            )
            return
        self.charging = True
        state.status = "FINISHED"

    # ---- the run loop -----------------------------------------------------------------

    def _sync(self, now: float) -> None:
        """Bring the vehicle up to `now` before an external input, and anchor idle chains."""
        self.advance(now)
        if self._running is None and self._drive is None:
            self._cursor = max(self._cursor, now)

    def _step(self, now: float) -> bool:
        running = self._running
        if running is not None:
            if running.paused_left is not None or running.ends_at > now:
                return False
            self._cursor = running.ends_at
            self._progress_action(running)
            return True
        drive = self._drive
        if drive is not None:
            if drive.halted or drive.ends_at > now:
                return False
            self._cursor = drive.ends_at
            self._arrive(drive)
            return True
        if self._cancel_id is not None:
            self._finish_cancel()
            return True
        if self.paused:
            return False
        if self._pending:
            action = self._pending.popleft()
            self._set_status(action.action_id, "INITIALIZING")
            self._running = _Running(
                action, self.last_node_id, "init", self._cursor + self.durations.action_init_s
            )
            return True
        if (
            not self.charging
            and self._nodes
            and self._edges
            and self._nodes[0].released
            and self._edges[0].released
        ):
            self._start_drive(self._nodes[0], self._edges[0])
            return True
        return self._set_driving(False)

    def _speed_on(self, edge: Edge) -> float:
        top = min(self.speed_mps, edge.max_speed) if edge.max_speed else self.speed_mps
        return top * self.speed_factor

    def _start_drive(self, node: Node, edge: Edge) -> None:
        dx, dy = node.x - self.x, node.y - self.y
        if dx or dy:
            self.theta = math.atan2(dy, dx)
        here = (self.x, self.y)
        self._drive = _Drive(edge, node, here, here, self._cursor, self._cursor, 0.0)
        self._new_leg(self._drive, here, self._cursor)
        self._set_driving(True)

    def _new_leg(self, drive: _Drive, here: tuple[float, float], now: float) -> None:
        """Go on from `here` at `now`, at the speed the vehicle has now."""
        drive.speed = self._speed_on(drive.edge)
        drive.start, drive.started_at = here, now
        remaining = math.hypot(drive.node.x - here[0], drive.node.y - here[1])
        drive.ends_at = now + remaining / drive.speed

    def _arrive(self, drive: _Drive) -> None:
        self._drive = None
        node = drive.node
        self.x, self.y = node.x, node.y
        if node.theta is not None:
            self.theta = node.theta
        self.last_node_id, self.last_node_sequence_id = node.node_id, node.sequence_id
        self._nodes.pop(0)
        self._edges.pop(0)
        if self._cancel_id is None:
            self._pending.extend(node.actions)
        self._state_trigger = True

    def _set_driving(self, driving: bool) -> bool:
        """Whether it changed (a state trigger, §6.10)."""
        if self.driving == driving:
            return False
        self.driving = driving
        self._state_trigger = True
        return True

    def _progress_action(self, running: _Running) -> None:
        action = running.action
        if running.phase == "init":
            problem = self._check_action(action, running.node_id)
            if problem is not None:
                self._running = None
                self._fail_order(action, running.node_id, *problem)
                return
            self._set_status(action.action_id, "RUNNING")
            duration = (
                self.durations.pick_s if action.action_type == "pick" else self.durations.drop_s
            )
            running.phase, running.ends_at = "run", self._cursor + duration
            return
        self._running = None
        load_id = self._load_id(action, running.node_id)
        try:
            if action.action_type == "pick":
                self.world.lift_tote(load_id, running.node_id, self.serial_number)
                self.loads.append(load_id)
            else:
                self.world.set_down_tote(load_id, running.node_id, self.serial_number)
                self.loads.remove(load_id)
        except (WorldError, ValueError) as exc:
            self._fail_order(action, running.node_id, "loadHandlingError", str(exc))
            return
        self._set_status(action.action_id, "FINISHED", f"{action.action_type} {load_id}")

    def _load_id(self, action: Action, node_id: str) -> str:
        load_id = action.params.get("loadId")
        if isinstance(load_id, str) and load_id:
            return load_id
        if action.action_type == "drop":
            return self.loads[0] if self.loads else ""
        totes = self.world.totes_at(node_id)
        return totes[0].tote_id if len(totes) == 1 else ""

    def _check_action(self, action: Action, node_id: str) -> tuple[str, str] | None:
        load_id = self._load_id(action, node_id)
        if action.action_type == "pick":
            if self.loads:
                return "loadHandlingDeviceOccupied", f"already carrying {self.loads[0]}"
            if not load_id or not self.world.tote_at(load_id, node_id):
                return "loadNotFound", f"tote {load_id or '?'} is not at node {node_id}"
        elif load_id not in self.loads:
            return "loadNotOnBoard", f"tote {load_id or '?'} is not on the vehicle"
        return None

    def _fail_order(self, action: Action, node_id: str, error_type: str, why: str) -> None:
        """A failed action ends the order on this node (see the module docstring)."""
        self._set_status(action.action_id, "FAILED", why)
        self._add_error(
            error_type,
            why,
            [
                ("orderId", self.order_id),
                ("actionId", action.action_id),
                ("nodeId", node_id),
                ("loadId", str(action.params.get("loadId", ""))),
            ],
        )
        self._abandon_order("order aborted after a failed action")

    def _abandon_order(self, why: str) -> None:
        for pending in self._pending:
            self._set_status(pending.action_id, "FAILED", why)
        self._pending.clear()
        for node in self._nodes:
            for pending in node.actions:
                self._set_status(pending.action_id, "FAILED", why)
        self._nodes, self._edges = [], []
        self._state_trigger = True

    def _finish_cancel(self) -> None:
        self._abandon_order("order cancelled")
        if self._cancel_id is not None:
            self._set_status(self._cancel_id, "FINISHED")
        self._cancel_id = None

    def _set_status(self, action_id: str, status: str, result: str | None = None) -> None:
        state = self._actions.get(action_id)
        if state is None or state.status in FINAL:
            return
        state.status = status
        if result is not None:
            state.result = result
        self._state_trigger = True

    def _update_battery(self, now: float) -> None:
        elapsed = now - self._battery_at
        if elapsed <= 0:
            return
        if self.charging:
            self.battery = min(100.0, self.battery + BATTERY_CHARGE_PCT_PER_S * elapsed)
        else:
            rate = BATTERY_DRAIN_DRIVING_PCT_PER_S if self.driving else BATTERY_DRAIN_IDLE_PCT_PER_S
            self.battery = max(0.0, self.battery - rate * elapsed)
        self._battery_at = now

    def _distance_since_last_node(self, now: float) -> float:
        if self._drive is None:
            return 0.0
        x, y = self.position(now)
        return math.hypot(x - self._drive.origin[0], y - self._drive.origin[1])


def _action_state(state: _ActionState) -> dict[str, Any]:
    out: dict[str, Any] = {
        "actionId": state.action_id,
        "actionType": state.action_type,
        "actionStatus": state.status,
    }
    if state.result is not None:
        out["resultDescription"] = state.result
    return out
