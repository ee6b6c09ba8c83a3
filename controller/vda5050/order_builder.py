"""A route becomes an `order` (items 15, 17-22, 25, 26, 28-30; §6.6).

Nodes and edges alternate with sequence ids 0, 1, 2, … (nodes even, edges odd); the first
`released` nodes and the edges between them form the base, the rest is the horizon. What was
sent is kept as an `Order` value: updates stitch onto it and resends repeat it verbatim.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from controller.vda5050.actions import PREDEFINED_PARAMETERS, Action, ActionScope, ActionSpec
from controller.vda5050.errors import InvalidOrder
from controller.vda5050.factsheet import Capabilities
from controller.vda5050.ids import IdFactory, check_id
from controller.vda5050.inbound import MapEntry, Position

# Optional fields we can send, by their factsheet names (§6.15 `optionalParameters`, item 25).
THETA = "order.nodes.nodePosition.theta"
ALLOWED_DEVIATION_XY = "order.nodes.nodePosition.allowedDeviationXY"
ALLOWED_DEVIATION_THETA = "order.nodes.nodePosition.allowedDeviationTheta"
MAX_SPEED = "order.edges.maxSpeed"


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One node of a route as the planner knows it (metres, radians; item 29)."""

    node_id: str
    x: float
    y: float
    map_id: str
    theta: float | None = None
    allowed_deviation_xy: float | None = None
    allowed_deviation_theta: float | None = None
    actions: tuple[ActionSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class EdgeSpec:
    """Optional details of the edge into the next node; the id defaults to `from_to`."""

    edge_id: str | None = None
    max_speed: float | None = None  # m/s
    actions: tuple[ActionSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class NodePosition:
    x: float
    y: float
    map_id: str
    theta: float | None = None
    allowed_deviation_xy: float | None = None
    allowed_deviation_theta: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"x": self.x, "y": self.y}
        if self.theta is not None:
            out["theta"] = self.theta
        if self.allowed_deviation_xy is not None:
            out["allowedDeviationXY"] = self.allowed_deviation_xy
        if self.allowed_deviation_theta is not None:
            out["allowedDeviationTheta"] = self.allowed_deviation_theta
        return out | {"mapId": self.map_id}


@dataclass(frozen=True, slots=True)
class Node:
    node_id: str
    sequence_id: int
    released: bool
    position: NodePosition
    actions: tuple[Action, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "nodeId": self.node_id,
            "sequenceId": self.sequence_id,
            "released": self.released,
            "nodePosition": self.position.to_json(),
            "actions": [a.to_json() for a in self.actions],
        }


@dataclass(frozen=True, slots=True)
class Edge:
    edge_id: str
    sequence_id: int
    released: bool
    start_node_id: str
    end_node_id: str
    max_speed: float | None = None
    actions: tuple[Action, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "edgeId": self.edge_id,
            "sequenceId": self.sequence_id,
            "released": self.released,
            "startNodeId": self.start_node_id,
            "endNodeId": self.end_node_id,
        }
        if self.max_speed is not None:
            out["maxSpeed"] = self.max_speed
        return out | {"actions": [a.to_json() for a in self.actions]}


@dataclass(frozen=True, slots=True)
class Order:
    """One `order` message as sent (without its header)."""

    order_id: str
    order_update_id: int
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    dropped_fields: frozenset[str] = field(default=frozenset(), compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "orderId": self.order_id,
            "orderUpdateId": self.order_update_id,
            "nodes": [n.to_json() for n in self.nodes],
            "edges": [e.to_json() for e in self.edges],
        }

    @property
    def decision_point(self) -> Node:
        """The last released node: where the next update must start (§6.6.2)."""
        return [n for n in self.nodes if n.released][-1]

    @property
    def has_horizon(self) -> bool:
        return not self.nodes[-1].released

    def actions(self) -> Iterable[Action]:
        for node in self.nodes:
            yield from node.actions
        for edge in self.edges:
            yield from edge.actions


def _finite(order_id: str, what: str, value: float) -> None:
    if not math.isfinite(value):
        raise InvalidOrder(order_id, f"{what} is {value}")  # JSON has no NaN (item 14)


def _position(order_id: str, spec: NodeSpec, caps: Capabilities, dropped: set[str]) -> NodePosition:
    """Item 29's ranges; item 25: optional fields the factsheet does not list are left out."""
    where = f"node {spec.node_id}"
    _finite(order_id, f"{where} x", spec.x)
    _finite(order_id, f"{where} y", spec.y)
    if not spec.map_id:
        raise InvalidOrder(order_id, f"{where} has no mapId")
    theta, dev_xy, dev_theta = spec.theta, spec.allowed_deviation_xy, spec.allowed_deviation_theta
    if theta is not None and not -math.pi <= theta <= math.pi:
        raise InvalidOrder(order_id, f"{where} theta {theta} outside [-π, π]")
    if dev_theta is not None and not 0 <= dev_theta <= math.pi:
        raise InvalidOrder(order_id, f"{where} allowedDeviationTheta {dev_theta} outside [0, π]")
    if dev_xy is not None and not (math.isfinite(dev_xy) and dev_xy >= 0):
        raise InvalidOrder(order_id, f"{where} allowedDeviationXY {dev_xy} is not ≥ 0")

    def keep(name: str, value: float | None) -> float | None:
        if value is not None and not caps.supports_field(name):
            dropped.add(name)
            return None
        return value

    return NodePosition(
        spec.x,
        spec.y,
        spec.map_id,
        keep(THETA, theta),
        keep(ALLOWED_DEVIATION_XY, dev_xy),
        keep(ALLOWED_DEVIATION_THETA, dev_theta),
    )


def check_action(order_id: str, action: Action, scope: ActionScope, caps: Capabilities) -> None:
    """Item 26: a type the AGV lists for this scope, with keys it (or §6.8) knows."""
    if not caps.supports_action(action.action_type, scope):
        raise InvalidOrder(
            order_id, f"the AGV does not list {action.action_type!r} with scope {scope.value}"
        )
    support = caps.actions[action.action_type]
    known = support.parameter_keys | PREDEFINED_PARAMETERS.get(action.action_type, frozenset())
    unknown = {p.key for p in action.parameters} - known
    if unknown and known:
        raise InvalidOrder(
            order_id, f"{action.action_type}: unknown parameter keys {sorted(unknown)}"
        )
    if support.blocking_types and action.blocking_type not in support.blocking_types:
        raise InvalidOrder(
            order_id, f"{action.action_type}: blockingType {action.blocking_type.value} unsupported"
        )


def _actions(
    order_id: str,
    specs: tuple[ActionSpec, ...],
    scope: ActionScope,
    previous: tuple[Action, ...],
    caps: Capabilities,
    new_id: IdFactory,
) -> tuple[Action, ...]:
    """Make the actions of one element; an action already sent on the same element keeps its
    id (item 34), anything new gets a fresh one."""
    out: list[Action] = []
    unused = list(previous)
    for spec in specs:
        same = next((a for a in unused if spec.same_as(a)), None)
        if same is not None:
            unused.remove(same)
            action = same
        else:
            action = spec.make(new_id)
        check_id(action.action_id, "actionId", max_len=caps.id_len)
        check_action(order_id, action, scope, caps)
        out.append(action)
    return tuple(out)


def _check_limits(order: Order, caps: Capabilities) -> None:
    """Item 28: the AGV's `protocolLimits.maxArrayLens`."""
    a = caps.arrays
    checks = [
        ("order.nodes", len(order.nodes), a.order_nodes),
        ("order.edges", len(order.edges), a.order_edges),
        *(("node.actions", len(n.actions), a.node_actions) for n in order.nodes),
        *(("edge.actions", len(e.actions), a.edge_actions) for e in order.edges),
        *(
            ("actions.actionsParameters", len(x.parameters), a.action_parameters)
            for x in order.actions()
        ),
    ]
    for name, count, limit in checks:
        if limit is not None and count > limit:
            raise InvalidOrder(order.order_id, f"{count} {name}, the AGV takes at most {limit}")


def check_unique_action_ids(order: Order, taken: frozenset[str]) -> None:
    seen: set[str] = set()
    for action in order.actions():
        if action.action_id in seen:
            raise InvalidOrder(order.order_id, f"actionId {action.action_id!r} used twice")
        seen.add(action.action_id)
    clash = sorted(taken & seen)
    if clash:
        raise InvalidOrder(order.order_id, f"actionIds {clash} were used earlier in this order")


def check_maps(order_id: str, nodes: Iterable[Node], maps: tuple[MapEntry, ...] | None) -> None:
    """Item 29: every mapId must be ENABLED on the AGV when it reports its maps."""
    if maps is None:
        return
    enabled = {m.map_id for m in maps if m.enabled}
    for node in nodes:
        if node.position.map_id not in enabled:
            raise InvalidOrder(
                order_id, f"node {node.node_id}: map {node.position.map_id!r} not enabled"
            )


def assemble(
    order_id: str,
    order_update_id: int,
    route: Sequence[NodeSpec],
    *,
    released: int,
    edges: Sequence[EdgeSpec] | None,
    caps: Capabilities,
    new_id: IdFactory,
    first: Node | None = None,
    previous: Order | None = None,
) -> Order:
    """The shared part of new orders and updates. `first`, if given, is the already sent
    decision point that replaces `route[0]` verbatim (item 33)."""
    check_id(order_id, "orderId", max_len=caps.id_len, numerical_only=caps.id_numerical_only)
    if not route:
        raise InvalidOrder(order_id, "an order needs at least one node")  # item 17
    edge_specs = list(edges) if edges is not None else [EdgeSpec()] * (len(route) - 1)
    if len(edge_specs) != len(route) - 1:
        raise InvalidOrder(order_id, f"{len(route)} nodes need {len(route) - 1} edges")
    if not 1 <= released <= len(route):
        raise InvalidOrder(order_id, f"released must be 1..{len(route)}, got {released}")
    base_seq = first.sequence_id if first is not None else 0  # item 18 / item 34
    old_nodes = {(n.sequence_id, n.node_id): n.actions for n in previous.nodes} if previous else {}
    old_edges = {(e.sequence_id, e.edge_id): e.actions for e in previous.edges} if previous else {}
    dropped: set[str] = set()
    nodes: list[Node] = []
    for i, spec in enumerate(route):
        seq = base_seq + 2 * i
        if i == 0 and first is not None:
            nodes.append(first)
            continue
        check_id(spec.node_id, "nodeId", max_len=caps.id_len, numerical_only=caps.id_numerical_only)
        nodes.append(
            Node(
                spec.node_id,
                seq,
                i < released,  # item 20: the released part is a prefix
                _position(order_id, spec, caps, dropped),
                _actions(
                    order_id,
                    spec.actions,
                    ActionScope.NODE,
                    old_nodes.get((seq, spec.node_id), ()),
                    caps,
                    new_id,
                ),
            )
        )
    out_edges: list[Edge] = []
    for i, edge_spec in enumerate(edge_specs):
        start, end = nodes[i], nodes[i + 1]
        edge_id = edge_spec.edge_id or f"{start.node_id}_{end.node_id}"
        check_id(edge_id, "edgeId", max_len=caps.id_len, numerical_only=caps.id_numerical_only)
        seq = base_seq + 2 * i + 1
        max_speed = edge_spec.max_speed
        if max_speed is not None:
            _finite(order_id, f"edge {edge_id} maxSpeed", max_speed)
            if not caps.supports_field(MAX_SPEED):
                dropped.add(MAX_SPEED)
                max_speed = None
        out_edges.append(
            Edge(
                edge_id,
                seq,
                i + 1 < released,  # item 20: released only if both its nodes are
                start.node_id,  # item 19
                end.node_id,
                max_speed,
                _actions(
                    order_id,
                    edge_spec.actions,
                    ActionScope.EDGE,
                    old_edges.get((seq, edge_id), ()),
                    caps,
                    new_id,
                ),
            )
        )
    order = Order(order_id, order_update_id, tuple(nodes), tuple(out_edges), frozenset(dropped))
    _check_limits(order, caps)
    return order


def build_order(
    order_id: str,
    route: Sequence[NodeSpec],
    *,
    released: int,
    last_node_id: str,
    position: Position | None,
    caps: Capabilities,
    new_id: IdFactory,
    edges: Sequence[EdgeSpec] | None = None,
    maps: tuple[MapEntry, ...] | None = None,
) -> Order:
    """A new order (orderUpdateId 0, item 22). Its first node must be trivially reachable
    (item 21, §6.6.1): the AGV's `lastNodeId`, or a node whose allowedDeviationXY covers the
    AGV's initialized position on the same map."""
    order = assemble(order_id, 0, route, released=released, edges=edges, caps=caps, new_id=new_id)
    first = order.nodes[0]
    if first.node_id != last_node_id and not _covers(first.position, position):
        raise InvalidOrder(
            order_id,
            f"first node {first.node_id} is neither the AGV's last node {last_node_id!r} "
            "nor within its allowed deviation of the AGV",
        )
    check_maps(order_id, order.nodes, maps)
    check_unique_action_ids(order, frozenset())
    return order


def _covers(node: NodePosition, position: Position | None) -> bool:
    if position is None or not position.initialized or position.map_id != node.map_id:
        return False
    if node.allowed_deviation_xy is None:
        return False
    return math.hypot(position.x - node.x, position.y - node.y) <= node.allowed_deviation_xy
