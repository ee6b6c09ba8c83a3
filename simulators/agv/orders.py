"""Reading a VDA 5050 2.1 `order` message into the vehicle's own terms, or rejecting it.

`parse_order` checks everything that can be judged from the message and the map alone
(§6.6.4): a malformed order raises `Rejection("validationError")`, an order asking for
something this vehicle does not support raises `Rejection("orderError")` naming the
offending fields. What depends on the vehicle's state (stitching, the first node, a busy
vehicle) is judged by the model.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from simulators.common.config import SiteMap

BLOCKING_TYPES = ("NONE", "SOFT", "HARD")
NODE_ACTIONS = ("pick", "drop")
# Optional order fields (§6.6.6) this vehicle does not support: the factsheet does not list
# them in `optionalParameters`, so an order carrying one gets an `orderError` (CHECKLIST 62).
UNSUPPORTED_EDGE_FIELDS = (
    "trajectory",
    "corridor",
    "orientation",
    "orientationType",
    "direction",
    "rotationAllowed",
    "maxRotationSpeed",
    "maxHeight",
    "minHeight",
)

Refs = list[tuple[str, str]]


@dataclass(frozen=True)
class Action:
    action_id: str
    action_type: str
    blocking_type: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Node:
    node_id: str
    sequence_id: int
    released: bool
    x: float
    y: float
    theta: float | None
    actions: list[Action]


@dataclass(frozen=True)
class Edge:
    edge_id: str
    sequence_id: int
    released: bool
    start_node_id: str
    end_node_id: str
    max_speed: float | None


@dataclass(frozen=True)
class Order:
    order_id: str
    order_update_id: int
    nodes: list[Node]
    edges: list[Edge]
    allowed_deviation_xy: float | None

    def references(self) -> Refs:
        return [("orderId", self.order_id), ("orderUpdateId", str(self.order_update_id))]


@dataclass
class Rejection(Exception):
    error_type: str
    description: str
    references: Refs = field(default_factory=list)


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def action_params(raw: dict[str, Any]) -> dict[str, Any]:
    params = raw.get("actionParameters") or []
    if not isinstance(params, list):
        return {}
    return {p["key"]: p.get("value") for p in params if isinstance(p, dict) and "key" in p}


def parse_order(message: Any, site_map: SiteMap) -> Order:
    if not isinstance(message, dict):
        raise Rejection("validationError", "order is not a JSON object")
    order_id, update_id = message.get("orderId"), message.get("orderUpdateId")
    refs = [("orderId", str(order_id)), ("orderUpdateId", str(update_id))]
    if not isinstance(order_id, str) or not order_id:
        raise Rejection("validationError", "orderId missing or not a string", refs)
    if not is_int(update_id) or update_id < 0:
        raise Rejection("validationError", "orderUpdateId missing or negative", refs)
    raw_nodes, raw_edges = message.get("nodes"), message.get("edges")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise Rejection("validationError", "order has no nodes", refs)
    if not isinstance(raw_edges, list):
        raise Rejection("validationError", "order has no edges array", refs)
    if len(raw_edges) != len(raw_nodes) - 1:
        raise Rejection(
            "validationError",
            f"{len(raw_edges)} edges for {len(raw_nodes)} nodes (must be nodes - 1)",
            refs,
        )
    nodes = [_parse_node(raw, refs, site_map) for raw in raw_nodes]
    edges = [_parse_edge(raw, refs) for raw in raw_edges]
    _check_sequence(nodes, edges, refs, site_map)
    _check_supported(nodes, raw_edges, refs)
    first = raw_nodes[0].get("nodePosition")
    deviation = first.get("allowedDeviationXY") if isinstance(first, dict) else None
    return Order(
        order_id=order_id,
        order_update_id=update_id,
        nodes=nodes,
        edges=edges,
        allowed_deviation_xy=deviation if is_number(deviation) else None,
    )


def _check_sequence(nodes: list[Node], edges: list[Edge], refs: Refs, site_map: SiteMap) -> None:
    """The rules the schema cannot express (§6.6.1, §6.6.2)."""
    for i, node in enumerate(nodes):
        nref = [*refs, ("nodeId", node.node_id)]
        if node.sequence_id % 2 != 0:
            raise Rejection("validationError", f"node {node.node_id} has an odd sequenceId", nref)
        if i > 0 and node.sequence_id != nodes[i - 1].sequence_id + 2:
            raise Rejection(
                "validationError", f"node {node.node_id}: sequenceIds not consecutive", nref
            )
    for i, edge in enumerate(edges):
        before, after = nodes[i], nodes[i + 1]
        eref = [*refs, ("edgeId", edge.edge_id)]
        if edge.sequence_id != before.sequence_id + 1:
            raise Rejection("validationError", f"edge {edge.edge_id}: bad sequenceId", eref)
        if edge.start_node_id != before.node_id or edge.end_node_id != after.node_id:
            raise Rejection(
                "validationError",
                f"edge {edge.edge_id} does not join {before.node_id} and {after.node_id}",
                eref,
            )
        if (
            before.node_id in site_map.positions
            and after.node_id in site_map.positions
            and before.node_id != after.node_id
            and not site_map.has_edge(before.node_id, after.node_id)
        ):
            raise Rejection(
                "validationError",
                f"edge {edge.edge_id}: {before.node_id}-{after.node_id} is not on the map",
                eref,
            )
        if edge.released != after.released:
            raise Rejection(
                "validationError",
                f"edge {edge.edge_id} released={edge.released} but its end node "
                f"released={after.released}",
                eref,
            )
    released = [n.released for n in nodes]
    if not released[0] or any(not a and b for a, b in itertools.pairwise(released)):
        raise Rejection("validationError", "released nodes must form a prefix", refs)


def _check_supported(nodes: list[Node], raw_edges: list[Any], refs: Refs) -> None:
    for node in nodes:
        for action in node.actions:
            if action.action_type not in NODE_ACTIONS:
                raise Rejection(
                    "orderError",
                    f"action type {action.action_type} is not supported on nodes",
                    [*refs, ("actionId", action.action_id), ("actionType", action.action_type)],
                )
    for raw in raw_edges:
        for name in UNSUPPORTED_EDGE_FIELDS:
            if name in raw:
                raise Rejection(
                    "orderError",
                    f"edge {raw['edgeId']}: {name} is not supported by this vehicle",
                    [*refs, ("edgeId", str(raw["edgeId"])), (name, "not supported")],
                )
        for action in raw.get("actions", []):
            action_id = action.get("actionId") if isinstance(action, dict) else None
            raise Rejection(
                "orderError",
                f"edge {raw['edgeId']}: edge actions are not supported",
                [*refs, ("edgeId", str(raw["edgeId"])), ("actionId", str(action_id))],
            )


def _parse_node(raw: Any, refs: Refs, site_map: SiteMap) -> Node:
    if not isinstance(raw, dict):
        raise Rejection("validationError", "node is not an object", refs)
    node_id, seq, released = raw.get("nodeId"), raw.get("sequenceId"), raw.get("released")
    nref = [*refs, ("nodeId", str(node_id))]
    if not isinstance(node_id, str) or not is_int(seq) or not isinstance(released, bool):
        raise Rejection("validationError", "node needs nodeId, sequenceId, released", nref)
    position = raw.get("nodePosition")
    theta: float | None = None
    if position is not None:
        if not (
            isinstance(position, dict)
            and is_number(position.get("x"))
            and is_number(position.get("y"))
            and isinstance(position.get("mapId"), str)
        ):
            raise Rejection("validationError", f"node {node_id}: bad nodePosition", nref)
        if position["mapId"] != site_map.map_id:
            raise Rejection(
                "validationError",
                f"node {node_id}: map {position['mapId']} is not loaded on this vehicle",
                nref,
            )
        x, y = float(position["x"]), float(position["y"])
        if is_number(position.get("theta")):
            theta = float(position["theta"])
    elif node_id in site_map.positions:
        x, y = site_map.positions[node_id]
    else:
        raise Rejection("validationError", f"node {node_id} is unknown and has no position", nref)
    actions_raw = raw.get("actions", [])
    if not isinstance(actions_raw, list):
        raise Rejection("validationError", f"node {node_id}: actions is not an array", nref)
    actions = [_parse_action(a, nref) for a in actions_raw]
    return Node(node_id, seq, released, x, y, theta, actions)


def _parse_edge(raw: Any, refs: Refs) -> Edge:
    if not isinstance(raw, dict):
        raise Rejection("validationError", "edge is not an object", refs)
    edge_id, seq, released = raw.get("edgeId"), raw.get("sequenceId"), raw.get("released")
    eref = [*refs, ("edgeId", str(edge_id))]
    start, end = raw.get("startNodeId"), raw.get("endNodeId")
    if not (
        isinstance(edge_id, str)
        and is_int(seq)
        and isinstance(released, bool)
        and isinstance(start, str)
        and isinstance(end, str)
    ):
        raise Rejection(
            "validationError",
            "edge needs edgeId, sequenceId, released, startNodeId, endNodeId",
            eref,
        )
    if not isinstance(raw.get("actions", []), list):
        raise Rejection("validationError", f"edge {edge_id}: actions is not an array", eref)
    max_speed = raw.get("maxSpeed")
    return Edge(
        edge_id,
        seq,
        released,
        start,
        end,
        float(max_speed) if is_number(max_speed) and max_speed > 0 else None,
    )


def _parse_action(raw: Any, refs: Refs) -> Action:
    if not (
        isinstance(raw, dict)
        and isinstance(raw.get("actionId"), str)
        and isinstance(raw.get("actionType"), str)
        and raw.get("blockingType") in BLOCKING_TYPES
    ):
        raise Rejection("validationError", "action needs actionId, actionType, blockingType", refs)
    return Action(raw["actionId"], raw["actionType"], raw["blockingType"], action_params(raw))
