"""What an AGV can do, from its factsheet (items 25, 26, 28, 73; §6.15).

Without a factsheet we fall back to the predefined actions in their predefined scopes, no
optional fields and no limits: enough to request the factsheet and recover, nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from controller.vda5050.actions import (
    PREDEFINED_PARAMETERS,
    PREDEFINED_SCOPES,
    ActionScope,
    BlockingType,
)
from controller.vda5050.errors import MalformedMessage


@dataclass(frozen=True, slots=True)
class ActionSupport:
    action_type: str
    scopes: frozenset[ActionScope]
    parameter_keys: frozenset[str] = frozenset()
    blocking_types: frozenset[BlockingType] = frozenset()  # empty: the factsheet does not say


@dataclass(frozen=True, slots=True)
class ArrayLimits:
    """`protocolLimits.maxArrayLens` entries we must respect (None: no limit given)."""

    order_nodes: int | None = None
    order_edges: int | None = None
    node_actions: int | None = None
    edge_actions: int | None = None
    action_parameters: int | None = None
    instant_actions: int | None = None


@dataclass(frozen=True, slots=True)
class Capabilities:
    actions: Mapping[str, ActionSupport]
    optional_parameters: frozenset[str] = frozenset()  # e.g. "order.nodes.nodePosition.theta"
    arrays: ArrayLimits = field(default_factory=ArrayLimits)
    msg_len: int | None = None  # bytes of one message
    id_len: int | None = None
    id_numerical_only: bool = False
    min_order_interval: timedelta = timedelta(0)
    default_state_interval: timedelta | None = None
    from_factsheet: bool = True

    def supports_action(self, action_type: str, scope: ActionScope) -> bool:
        support = self.actions.get(action_type)
        return support is not None and scope in support.scopes

    def supports_field(self, name: str) -> bool:
        return name in self.optional_parameters


def predefined_only() -> Capabilities:
    """The fallback before a factsheet arrives (see the module docstring)."""
    return Capabilities(
        actions={
            t: ActionSupport(t, scopes, PREDEFINED_PARAMETERS.get(t, frozenset()))
            for t, scopes in PREDEFINED_SCOPES.items()
        },
        from_factsheet=False,
    )


def _get(obj: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise MalformedMessage("factsheet", f"{where}{key}", f"expected {kind.__name__}")
    return value


def _opt_int(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _seconds(obj: Mapping[str, Any], key: str) -> timedelta | None:
    value = obj.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    return None


def parse_factsheet(message: Mapping[str, Any]) -> Capabilities:
    """The parts of a `factsheet` we act on; other (optional) parts are ignored (item 25)."""
    limits = _get(message, "protocolLimits", dict, "")
    features = _get(message, "protocolFeatures", dict, "")
    strings = limits.get("maxStringLens") or {}
    arrays = limits.get("maxArrayLens") or {}
    timing = limits.get("timing") or {}
    actions: dict[str, ActionSupport] = {}
    for i, entry in enumerate(_get(features, "agvActions", list, "protocolFeatures.")):
        where = f"protocolFeatures.agvActions[{i}]."
        if not isinstance(entry, dict):
            raise MalformedMessage("factsheet", where, "expected an object")
        action_type = _get(entry, "actionType", str, where)
        scopes = frozenset(
            ActionScope(s) for s in entry.get("actionScopes", []) if s in ActionScope.__members__
        )
        keys = frozenset(
            p["key"]
            for p in entry.get("actionParameters") or []
            if isinstance(p, dict) and isinstance(p.get("key"), str)
        )
        blocking = frozenset(
            BlockingType(b)
            for b in entry.get("blockingTypes") or []
            if b in BlockingType.__members__
        )
        actions[action_type] = ActionSupport(action_type, scopes, keys, blocking)
    optional = frozenset(
        p["parameter"]
        for p in _get(features, "optionalParameters", list, "protocolFeatures.")
        if isinstance(p, dict) and isinstance(p.get("parameter"), str)
    )
    return Capabilities(
        actions=actions,
        optional_parameters=optional,
        arrays=ArrayLimits(
            order_nodes=_opt_int(arrays, "order.nodes"),
            order_edges=_opt_int(arrays, "order.edges"),
            node_actions=_opt_int(arrays, "node.actions"),
            edge_actions=_opt_int(arrays, "edge.actions"),
            action_parameters=_opt_int(arrays, "actions.actionsParameters"),
            instant_actions=_opt_int(arrays, "instantActions"),
        ),
        msg_len=_opt_int(strings, "msgLen"),
        id_len=_opt_int(strings, "idLen"),
        id_numerical_only=strings.get("idNumericalOnly") is True,
        min_order_interval=_seconds(timing, "minOrderInterval") or timedelta(0),
        default_state_interval=_seconds(timing, "defaultStateInterval"),
    )
