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
"""

from __future__ import annotations

import itertools
import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from simulators.common.config import SiteMap
from simulators.common.world import World, WorldError

VDA_VERSION = "2.1.0"
LOAD_POSITION = "LHD1"
LOAD_TYPE = "TOTE"
BLOCKING_TYPES = ("NONE", "SOFT", "HARD")
NODE_ACTIONS = ("pick", "drop")
INSTANT_ACTIONS = ("cancelOrder", "stateRequest", "factsheetRequest", "initPosition")
BATTERY_DRAIN_DRIVING_PCT_PER_S = 0.004  # ~14 %/h of driving: a demo never gets near 50 %
BATTERY_DRAIN_IDLE_PCT_PER_S = 0.0005


@dataclass(frozen=True)
class AgvDurations:
    """Sim seconds."""

    action_init_s: float = 0.5
    pick_s: float = 4.0
    drop_s: float = 3.0


@dataclass
class _Action:
    action_id: str
    action_type: str
    blocking_type: str
    params: dict[str, Any]


@dataclass
class _Node:
    node_id: str
    sequence_id: int
    released: bool
    x: float
    y: float
    theta: float | None
    actions: list[_Action]


@dataclass
class _Edge:
    edge_id: str
    sequence_id: int
    released: bool
    start_node_id: str
    end_node_id: str
    max_speed: float | None


@dataclass
class _Order:
    order_id: str
    order_update_id: int
    nodes: list[_Node]
    edges: list[_Edge]
    header_id: Any
    allowed_deviation_xy: float | None


@dataclass
class _ActionState:
    action_id: str
    action_type: str
    status: str
    result: str | None = None
    is_instant: bool = False


@dataclass
class _Running:
    action: _Action
    node_id: str
    phase: str  # "init" | "run"
    ends_at: float


@dataclass
class _Drive:
    edge: _Edge
    node: _Node
    start: tuple[float, float]
    started_at: float
    ends_at: float
    speed: float


@dataclass
class _Rejection(Exception):
    error_type: str
    description: str
    references: list[tuple[str, str]] = field(default_factory=list)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


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
        self.battery = round(rng.uniform(85.0, 98.0), 1)
        self.loads: list[str] = []
        self.errors: list[dict[str, Any]] = []
        self._nodes: list[_Node] = []  # not yet traversed, base then horizon
        self._edges: list[_Edge] = []
        self._actions: dict[str, _ActionState] = {}
        self._pending: deque[_Action] = deque()  # actions of the node the vehicle stands on
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
        if self._running is not None:
            return self._running.ends_at
        if self._drive is not None:
            return self._drive.ends_at
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
        self._drain_battery(now)
        x, y = self.position(now)
        return {
            **self.header(header_id, timestamp),
            "maps": [{"mapId": self.map.map_id, "mapVersion": "1", "mapStatus": "ENABLED"}],
            "orderId": self.order_id,
            "orderUpdateId": self.order_update_id,
            "lastNodeId": self.last_node_id,
            "lastNodeSequenceId": self.last_node_sequence_id,
            "nodeStates": [self._node_state(n) for n in self._nodes],
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
            "velocity": {"vx": self._drive.speed if self._drive else 0.0, "vy": 0.0, "omega": 0.0},
            "loads": [
                {"loadId": load, "loadType": LOAD_TYPE, "loadPosition": LOAD_POSITION}
                for load in self.loads
            ],
            "driving": self.driving,
            "paused": False,
            "newBaseRequest": False,
            "distanceSinceLastNode": round(self._distance_since_last_node(now), 3),
            "actionStates": [self._action_state(a) for a in self._actions.values()],
            "batteryState": {
                "batteryCharge": round(self.battery, 2),
                "batteryVoltage": round(44.0 + 0.08 * self.battery, 2),
                "charging": False,
            },
            "operatingMode": "AUTOMATIC",
            "errors": [dict(e) for e in self.errors],
            "information": [],
            "safetyState": {"eStop": "NONE", "fieldViolation": False},
        }

    def factsheet(self, header_id: int, timestamp: str) -> dict[str, Any]:
        load_params = [
            {"key": "loadId", "valueDataType": "STRING", "description": "tote id"},
            {
                "key": "stationType",
                "valueDataType": "STRING",
                "description": "rack or station",
                "isOptional": True,
            },
            {"key": "loadType", "valueDataType": "STRING", "isOptional": True},
        ]
        return {
            **self.header(header_id, timestamp),
            "typeSpecification": {
                "seriesName": "SimTote 600",
                "seriesDescription": "Simulated tote carrier (smart-warehouse-controller)",
                "agvKinematic": "DIFF",
                "agvClass": "CARRIER",
                "maxLoadMass": 30.0,
                "localizationTypes": ["NATURAL"],
                "navigationTypes": ["AUTONOMOUS"],
            },
            "physicalParameters": {
                "speedMin": 0.1,
                "speedMax": self.speed_mps,
                "accelerationMax": 0.8,
                "decelerationMax": 1.0,
                "heightMin": 0.35,
                "heightMax": 0.5,
                "width": 0.6,
                "length": 0.9,
            },
            "protocolLimits": {
                "maxStringLens": {"msgLen": 65536, "idLen": 64, "loadIdLen": 32},
                "maxArrayLens": {
                    "order.nodes": 200,
                    "order.edges": 199,
                    "node.actions": 4,
                    "edge.actions": 0,
                    "instantActions": 8,
                },
                "timing": {
                    "minOrderInterval": 0.1,
                    "minStateInterval": 0.05,
                    "defaultStateInterval": 30.0,
                },
            },
            "protocolFeatures": {
                "optionalParameters": [
                    {"parameter": "order.nodes.nodePosition", "support": "SUPPORTED"},
                    {"parameter": "order.edges.maxSpeed", "support": "SUPPORTED"},
                ],
                "agvActions": [
                    {
                        "actionType": "pick",
                        "actionDescription": "lift the tote `loadId` from the node",
                        "actionScopes": ["NODE"],
                        "actionParameters": load_params,
                    },
                    {
                        "actionType": "drop",
                        "actionDescription": "set the tote `loadId` down on the node",
                        "actionScopes": ["NODE"],
                        "actionParameters": load_params,
                    },
                    {"actionType": "cancelOrder", "actionScopes": ["INSTANT"]},
                    {"actionType": "stateRequest", "actionScopes": ["INSTANT"]},
                    {"actionType": "factsheetRequest", "actionScopes": ["INSTANT"]},
                    {
                        "actionType": "initPosition",
                        "actionScopes": ["INSTANT"],
                        "actionParameters": [
                            {"key": "x", "valueDataType": "NUMBER"},
                            {"key": "y", "valueDataType": "NUMBER"},
                            {"key": "theta", "valueDataType": "NUMBER"},
                            {"key": "mapId", "valueDataType": "STRING"},
                            {"key": "lastNodeId", "valueDataType": "STRING"},
                        ],
                    },
                ],
            },
            "agvGeometry": {},
            "loadSpecification": {
                "loadPositions": [LOAD_POSITION],
                "loadSets": [
                    {
                        "setName": "DEFAULT",
                        "loadType": LOAD_TYPE,
                        "maxWeight": 30.0,
                        "pickTime": self.durations.action_init_s + self.durations.pick_s,
                        "dropTime": self.durations.action_init_s + self.durations.drop_s,
                    }
                ],
            },
        }

    def position(self, now: float) -> tuple[float, float]:
        drive = self._drive
        if drive is None:
            return self.x, self.y
        span = drive.ends_at - drive.started_at
        frac = 1.0 if span <= 0 else min(1.0, max(0.0, (now - drive.started_at) / span))
        (x0, y0), (x1, y1) = drive.start, (drive.node.x, drive.node.y)
        return x0 + (x1 - x0) * frac, y0 + (y1 - y0) * frac

    # ---- inputs -----------------------------------------------------------------------

    def receive_order(self, message: Any, now: float) -> None:
        self._sync(now)
        header_id = message.get("headerId") if isinstance(message, dict) else None
        try:
            order = self._parse_order(message)
            if order.order_id == self.order_id:
                if order.order_update_id < self.order_update_id:
                    raise _Rejection(
                        "orderUpdateError",
                        f"orderUpdateId {order.order_update_id} is lower than current "
                        f"orderUpdateId {self.order_update_id}",
                    )
                if order.order_update_id == self.order_update_id:
                    return  # a repeat of what the vehicle already has: ignored (§6.6.4.3)
                self._accept_update(order)
            else:
                if self._has_active_order():
                    raise _Rejection(
                        "orderUpdateError",
                        f"order {self.order_id} is still being executed; cancel it first",
                    )
                self._check_first_node(order)
                self._accept_new(order)
        except _Rejection as rejection:
            self._reject(rejection, message, header_id)
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
            self._instant_action(raw["actionId"], raw["actionType"], _params(raw))
        self._state_trigger = True
        self.advance(now)

    def advance(self, now: float) -> None:
        self._drain_battery(now)
        while self._step(now):
            pass

    # ---- orders -----------------------------------------------------------------------

    def _parse_order(self, message: Any) -> _Order:
        if not isinstance(message, dict):
            raise _Rejection("validationError", "order is not a JSON object")
        order_id, update_id = message.get("orderId"), message.get("orderUpdateId")
        refs = [("orderId", str(order_id)), ("orderUpdateId", str(update_id))]
        if not isinstance(order_id, str) or not order_id:
            raise _Rejection("validationError", "orderId missing or not a string", refs)
        if not _is_int(update_id) or update_id < 0:
            raise _Rejection("validationError", "orderUpdateId missing or negative", refs)
        raw_nodes, raw_edges = message.get("nodes"), message.get("edges")
        if not isinstance(raw_nodes, list) or not raw_nodes:
            raise _Rejection("validationError", "order has no nodes", refs)
        if not isinstance(raw_edges, list):
            raise _Rejection("validationError", "order has no edges array", refs)
        if len(raw_edges) != len(raw_nodes) - 1:
            raise _Rejection(
                "validationError",
                f"{len(raw_edges)} edges for {len(raw_nodes)} nodes (must be nodes - 1)",
                refs,
            )
        nodes = [self._parse_node(raw, refs) for raw in raw_nodes]
        edges = [self._parse_edge(raw, refs) for raw in raw_edges]
        for i, node in enumerate(nodes):
            if node.sequence_id % 2 != 0:
                raise _Rejection(
                    "validationError",
                    f"node {node.node_id} has an odd sequenceId",
                    [*refs, ("nodeId", node.node_id)],
                )
            if i > 0 and node.sequence_id != nodes[i - 1].sequence_id + 2:
                raise _Rejection(
                    "validationError",
                    f"node {node.node_id}: sequenceIds not consecutive",
                    [*refs, ("nodeId", node.node_id)],
                )
        for i, edge in enumerate(edges):
            before, after = nodes[i], nodes[i + 1]
            eref = [*refs, ("edgeId", edge.edge_id)]
            if edge.sequence_id != before.sequence_id + 1:
                raise _Rejection("validationError", f"edge {edge.edge_id}: bad sequenceId", eref)
            if edge.start_node_id != before.node_id or edge.end_node_id != after.node_id:
                raise _Rejection(
                    "validationError",
                    f"edge {edge.edge_id} does not join {before.node_id} and {after.node_id}",
                    eref,
                )
            if (
                before.node_id in self.map.positions
                and after.node_id in self.map.positions
                and before.node_id != after.node_id
                and not self.map.has_edge(before.node_id, after.node_id)
            ):
                raise _Rejection(
                    "validationError",
                    f"edge {edge.edge_id}: {before.node_id}-{after.node_id} is not on the map",
                    eref,
                )
            if edge.released != after.released:
                raise _Rejection(
                    "validationError",
                    f"edge {edge.edge_id} released={edge.released} but its end node "
                    f"released={after.released}",
                    eref,
                )
        released = [n.released for n in nodes]
        if not released[0] or any(not a and b for a, b in itertools.pairwise(released)):
            raise _Rejection("validationError", "released nodes must form a prefix", refs)
        for node in nodes:
            for action in node.actions:
                if action.action_type not in NODE_ACTIONS:
                    raise _Rejection(
                        "orderError",
                        f"action type {action.action_type} is not supported on nodes",
                        [*refs, ("actionId", action.action_id), ("actionType", action.action_type)],
                    )
        first = raw_nodes[0].get("nodePosition") if isinstance(raw_nodes[0], dict) else None
        deviation = first.get("allowedDeviationXY") if isinstance(first, dict) else None
        return _Order(
            order_id=order_id,
            order_update_id=update_id,
            nodes=nodes,
            edges=edges,
            header_id=message.get("headerId"),
            allowed_deviation_xy=deviation if _is_number(deviation) else None,
        )

    def _parse_node(self, raw: Any, refs: list[tuple[str, str]]) -> _Node:
        if not isinstance(raw, dict):
            raise _Rejection("validationError", "node is not an object", refs)
        node_id, seq, released = raw.get("nodeId"), raw.get("sequenceId"), raw.get("released")
        nref = [*refs, ("nodeId", str(node_id))]
        if not isinstance(node_id, str) or not _is_int(seq) or not isinstance(released, bool):
            raise _Rejection("validationError", "node needs nodeId, sequenceId, released", nref)
        position = raw.get("nodePosition")
        theta: float | None = None
        if position is not None:
            if not (
                isinstance(position, dict)
                and _is_number(position.get("x"))
                and _is_number(position.get("y"))
                and isinstance(position.get("mapId"), str)
            ):
                raise _Rejection("validationError", f"node {node_id}: bad nodePosition", nref)
            if position["mapId"] != self.map.map_id:
                raise _Rejection(
                    "validationError",
                    f"node {node_id}: map {position['mapId']} is not loaded on this vehicle",
                    nref,
                )
            x, y = float(position["x"]), float(position["y"])
            if _is_number(position.get("theta")):
                theta = float(position["theta"])
        elif node_id in self.map.positions:
            x, y = self.map.positions[node_id]
        else:
            raise _Rejection(
                "validationError", f"node {node_id} is unknown and has no position", nref
            )
        actions_raw = raw.get("actions", [])
        if not isinstance(actions_raw, list):
            raise _Rejection("validationError", f"node {node_id}: actions is not an array", nref)
        actions = [self._parse_action(a, nref) for a in actions_raw]
        return _Node(node_id, seq, released, x, y, theta, actions)

    def _parse_edge(self, raw: Any, refs: list[tuple[str, str]]) -> _Edge:
        if not isinstance(raw, dict):
            raise _Rejection("validationError", "edge is not an object", refs)
        edge_id, seq, released = raw.get("edgeId"), raw.get("sequenceId"), raw.get("released")
        eref = [*refs, ("edgeId", str(edge_id))]
        start, end = raw.get("startNodeId"), raw.get("endNodeId")
        if not (
            isinstance(edge_id, str)
            and _is_int(seq)
            and isinstance(released, bool)
            and isinstance(start, str)
            and isinstance(end, str)
        ):
            raise _Rejection(
                "validationError",
                "edge needs edgeId, sequenceId, released, startNodeId, endNodeId",
                eref,
            )
        actions = raw.get("actions", [])
        if not isinstance(actions, list):
            raise _Rejection("validationError", f"edge {edge_id}: actions is not an array", eref)
        if actions:
            raise _Rejection("orderError", f"edge {edge_id}: edge actions are not supported", eref)
        max_speed = raw.get("maxSpeed")
        return _Edge(
            edge_id,
            seq,
            released,
            start,
            end,
            float(max_speed) if _is_number(max_speed) and max_speed > 0 else None,
        )

    def _parse_action(self, raw: Any, refs: list[tuple[str, str]]) -> _Action:
        if not (
            isinstance(raw, dict)
            and isinstance(raw.get("actionId"), str)
            and isinstance(raw.get("actionType"), str)
            and raw.get("blockingType") in BLOCKING_TYPES
        ):
            raise _Rejection(
                "validationError", "action needs actionId, actionType, blockingType", refs
            )
        return _Action(raw["actionId"], raw["actionType"], raw["blockingType"], _params(raw))

    def _check_first_node(self, order: _Order) -> None:
        first = order.nodes[0]
        if first.node_id == self.last_node_id and self._drive is None:
            return
        deviation = order.allowed_deviation_xy
        if deviation is not None and math.hypot(first.x - self.x, first.y - self.y) <= deviation:
            return
        raise _Rejection(
            "validationError",
            f"first node {first.node_id} is not the vehicle's current node {self.last_node_id}",
            [("orderId", order.order_id), ("nodeId", first.node_id)],
        )

    def _accept_new(self, order: _Order) -> None:
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

    def _accept_update(self, order: _Order) -> None:
        base = [n for n in self._nodes if n.released]
        if base:
            decision_id, decision_seq = base[-1].node_id, base[-1].sequence_id
        else:
            decision_id, decision_seq = self.last_node_id, self.last_node_sequence_id
        first = order.nodes[0]
        if (first.node_id, first.sequence_id) != (decision_id, decision_seq):
            raise _Rejection(
                "orderUpdateError",
                f"update starts at {first.node_id}/{first.sequence_id}, "
                f"not at the end of the base {decision_id}/{decision_seq}",
                [("orderId", order.order_id), ("orderUpdateId", str(order.order_update_id))],
            )
        self.errors.clear()
        self.order_update_id = order.order_update_id
        self._nodes = [n for n in self._nodes if n.released] + order.nodes[1:]
        self._edges = [e for e in self._edges if e.released] + order.edges
        for node in order.nodes[1:]:
            for action in node.actions:
                self._actions[action.action_id] = _ActionState(
                    action.action_id, action.action_type, "WAITING"
                )
        self._state_trigger = True

    def _reject(self, rejection: _Rejection, message: Any, header_id: Any) -> None:
        refs = [("headerId", str(header_id)), ("topic", "order")]
        keys = {k for k, _ in refs}
        refs += [(k, v) for k, v in rejection.references if k not in keys]
        self._add_error(rejection.error_type, rejection.description, refs)

    def _add_error(self, error_type: str, description: str, refs: list[tuple[str, str]]) -> None:
        error = {
            "errorType": error_type,
            "errorLevel": "WARNING",
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
            or any(
                a.status in ("WAITING", "INITIALIZING", "RUNNING")
                for a in self._actions.values()
                if not a.is_instant
            )
        )

    # ---- instant actions --------------------------------------------------------------

    def _instant_action(self, action_id: str, action_type: str, params: dict[str, Any]) -> None:
        state = _ActionState(action_id, action_type, "WAITING", is_instant=True)
        self._actions[action_id] = state
        if action_type == "cancelOrder":
            if not self._has_active_order() or self._cancel_id is not None:
                state.status = "FAILED"
                state.result = "no order to cancel"
                self._add_error(
                    "noOrderToCancel",
                    "cancelOrder received without an active order",
                    [("actionId", action_id), ("orderId", self.order_id)],
                )
            else:
                state.status = "RUNNING"
                self._cancel_id = action_id
                for pending in self._pending:  # waiting actions will never run
                    self._set_status(pending.action_id, "FAILED", "order cancelled")
                self._pending.clear()
                for node in self._nodes:
                    for waiting in node.actions:
                        self._set_status(waiting.action_id, "FAILED", "order cancelled")
        elif action_type == "stateRequest":
            state.status = "FINISHED"
        elif action_type == "factsheetRequest":
            state.status = "FINISHED"
            self._factsheet_requested = True
        elif action_type == "initPosition":
            self._init_position(state, params)
        else:
            state.status = "FAILED"
            state.result = f"instant action {action_type} is not supported"

    def _init_position(self, state: _ActionState, params: dict[str, Any]) -> None:
        x, y, node_id = params.get("x"), params.get("y"), params.get("lastNodeId")
        if self._has_active_order() or not (_is_number(x) and _is_number(y)):
            state.status = "FAILED"
            state.result = "initPosition needs x and y and no active order"
            return
        self.x, self.y = float(x), float(y)
        theta = params.get("theta")
        if _is_number(theta):
            self.theta = float(theta)
        if isinstance(node_id, str):
            self.last_node_id, self.last_node_sequence_id = node_id, 0
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
            if running.ends_at > now:
                return False
            self._cursor = running.ends_at
            self._progress_action(running)
            return True
        drive = self._drive
        if drive is not None:
            if drive.ends_at > now:
                return False
            self._cursor = drive.ends_at
            self._arrive(drive)
            return True
        if self._cancel_id is not None:
            self._finish_cancel()
            return True
        if self._pending:
            action = self._pending.popleft()
            self._set_status(action.action_id, "INITIALIZING")
            self._running = _Running(
                action, self.last_node_id, "init", self._cursor + self.durations.action_init_s
            )
            return True
        if self._nodes and self._edges and self._nodes[0].released and self._edges[0].released:
            self._start_drive(self._nodes[0], self._edges[0])
            return True
        if self.driving:
            self.driving = False
            self._state_trigger = True
            return True
        return False

    def _start_drive(self, node: _Node, edge: _Edge) -> None:
        dx, dy = node.x - self.x, node.y - self.y
        distance = math.hypot(dx, dy)
        speed = min(self.speed_mps, edge.max_speed) if edge.max_speed else self.speed_mps
        if distance > 0:
            self.theta = math.atan2(dy, dx)
        self._drive = _Drive(
            edge, node, (self.x, self.y), self._cursor, self._cursor + distance / speed, speed
        )
        if not self.driving:
            self.driving = True
            self._state_trigger = True

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

    def _load_id(self, action: _Action, node_id: str) -> str:
        load_id = action.params.get("loadId")
        if isinstance(load_id, str) and load_id:
            return load_id
        if action.action_type == "drop":
            return self.loads[0] if self.loads else ""
        totes = self.world.totes_at(node_id)
        return totes[0].tote_id if len(totes) == 1 else ""

    def _check_action(self, action: _Action, node_id: str) -> tuple[str, str] | None:
        load_id = self._load_id(action, node_id)
        if action.action_type == "pick":
            if self.loads:
                return "loadHandlingDeviceOccupied", f"already carrying {self.loads[0]}"
            if not load_id or not self.world.tote_at(load_id, node_id):
                return "loadNotFound", f"tote {load_id or '?'} is not at node {node_id}"
        elif load_id not in self.loads:
            return "loadNotOnBoard", f"tote {load_id or '?'} is not on the vehicle"
        return None

    def _fail_order(self, action: _Action, node_id: str, error_type: str, why: str) -> None:
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
        if state is None or state.status in ("FINISHED", "FAILED"):
            return
        state.status = status
        if result is not None:
            state.result = result
        self._state_trigger = True

    def _drain_battery(self, now: float) -> None:
        elapsed = now - self._battery_at
        if elapsed <= 0:
            return
        rate = BATTERY_DRAIN_DRIVING_PCT_PER_S if self.driving else BATTERY_DRAIN_IDLE_PCT_PER_S
        self.battery = max(0.0, self.battery - rate * elapsed)
        self._battery_at = now

    def _distance_since_last_node(self, now: float) -> float:
        if self._drive is None:
            return 0.0
        x, y = self.position(now)
        return math.hypot(x - self._drive.start[0], y - self._drive.start[1])

    @staticmethod
    def _node_state(node: _Node) -> dict[str, Any]:
        return {
            "nodeId": node.node_id,
            "sequenceId": node.sequence_id,
            "released": node.released,
        }

    @staticmethod
    def _action_state(state: _ActionState) -> dict[str, Any]:
        out: dict[str, Any] = {
            "actionId": state.action_id,
            "actionType": state.action_type,
            "actionStatus": state.status,
        }
        if state.result is not None:
            out["resultDescription"] = state.result
        return out


def _params(raw: dict[str, Any]) -> dict[str, Any]:
    params = raw.get("actionParameters") or []
    if not isinstance(params, list):
        return {}
    return {p["key"]: p.get("value") for p in params if isinstance(p, dict) and "key" in p}
