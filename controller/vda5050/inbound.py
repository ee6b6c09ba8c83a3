"""Incoming `state` and `connection` messages as typed, frozen values.

The edge decodes JSON; these functions take the decoded object, check the fields the master
control relies on (item 49) and ignore the rest. `information[]` is deliberately not read:
it is for humans, never for decisions (item 57, §6.10.4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from controller.domain.messages import ActionStatus, ConnectionState
from controller.vda5050.errors import MalformedMessage
from controller.vda5050.headers import parse_timestamp

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Header:
    header_id: int
    timestamp: datetime
    version: str
    manufacturer: str
    serial_number: str


@dataclass(frozen=True, slots=True)
class NodeStateEntry:
    node_id: str
    sequence_id: int
    released: bool


@dataclass(frozen=True, slots=True)
class EdgeStateEntry:
    edge_id: str
    sequence_id: int
    released: bool


@dataclass(frozen=True, slots=True)
class ActionStateEntry:
    action_id: str
    action_type: str
    status: ActionStatus
    result_description: str = ""


@dataclass(frozen=True, slots=True)
class ErrorEntry:
    error_type: str
    level: str  # WARNING | FATAL
    description: str
    references: tuple[tuple[str, str], ...]

    def reference(self, key: str) -> str | None:
        return next((v for k, v in self.references if k == key), None)


@dataclass(frozen=True, slots=True)
class Position:
    x: float
    y: float
    theta: float
    map_id: str
    initialized: bool


@dataclass(frozen=True, slots=True)
class Load:
    load_id: str | None
    load_type: str | None
    load_position: str | None


@dataclass(frozen=True, slots=True)
class MapEntry:
    map_id: str
    map_version: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class StateMessage:
    header: Header
    order_id: str
    order_update_id: int
    last_node_id: str
    last_node_sequence_id: int
    node_states: tuple[NodeStateEntry, ...]
    edge_states: tuple[EdgeStateEntry, ...]
    driving: bool
    paused: bool
    new_base_request: bool
    action_states: tuple[ActionStateEntry, ...]
    battery_charge: float
    charging: bool
    operating_mode: str
    errors: tuple[ErrorEntry, ...]
    e_stop: str
    field_violation: bool
    position: Position | None  # raw as reported; see VehicleView.position (item 56)
    loads: tuple[Load, ...] | None  # None: not reported = unknown (item 55)
    maps: tuple[MapEntry, ...] | None  # None: not reported


@dataclass(frozen=True, slots=True)
class ConnectionMessage:
    header: Header
    state: ConnectionState


class _Reader:
    """Typed access with a useful path in the error."""

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def fail(self, where: str, problem: str) -> MalformedMessage:
        return MalformedMessage(self.topic, where, problem)

    def get(self, obj: Any, key: str, kind: type[T], where: str = "") -> T:
        if not isinstance(obj, Mapping):
            raise self.fail(where or "(root)", "expected an object")
        value = obj.get(key)
        # JSON numbers: an int is a fine float; a bool is never a number.
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise self.fail(where + key, f"expected {kind.__name__}, got {value!r}"[:120])
        return value

    def opt(self, obj: Mapping[str, Any], key: str, kind: type[T], default: T, where: str) -> T:
        return default if obj.get(key) is None else self.get(obj, key, kind, where)

    def items(self, obj: Mapping[str, Any], key: str, where: str = "") -> list[Any]:
        return self.get(obj, key, list, where)

    def header(self, obj: Any) -> Header:
        try:
            timestamp = parse_timestamp(self.get(obj, "timestamp", str))
        except ValueError as exc:
            raise self.fail("timestamp", str(exc)) from None
        header_id = self.get(obj, "headerId", int)
        return Header(
            header_id,
            timestamp,
            self.get(obj, "version", str),
            self.get(obj, "manufacturer", str),
            self.get(obj, "serialNumber", str),
        )


def _action_status(r: _Reader, value: str, where: str) -> ActionStatus:
    try:
        return ActionStatus(value)  # PAUSED accepted although the 2.1.0 schema lacks it (#356)
    except ValueError:
        raise r.fail(where, f"unknown actionStatus {value!r}") from None


def parse_state(message: Mapping[str, Any]) -> StateMessage:
    r = _Reader("state")
    g = r.get
    nodes = tuple(
        NodeStateEntry(
            g(n, "nodeId", str, f"nodeStates[{i}]."),
            g(n, "sequenceId", int, f"nodeStates[{i}]."),
            g(n, "released", bool, f"nodeStates[{i}]."),
        )
        for i, n in enumerate(r.items(message, "nodeStates"))
    )
    edges = tuple(
        EdgeStateEntry(
            g(e, "edgeId", str, f"edgeStates[{i}]."),
            g(e, "sequenceId", int, f"edgeStates[{i}]."),
            g(e, "released", bool, f"edgeStates[{i}]."),
        )
        for i, e in enumerate(r.items(message, "edgeStates"))
    )
    actions = tuple(
        ActionStateEntry(
            g(a, "actionId", str, f"actionStates[{i}]."),
            r.opt(a, "actionType", str, "", f"actionStates[{i}]."),
            _action_status(r, g(a, "actionStatus", str, f"actionStates[{i}]."), "actionStatus"),
            r.opt(a, "resultDescription", str, "", f"actionStates[{i}]."),
        )
        for i, a in enumerate(r.items(message, "actionStates"))
    )
    errors = tuple(
        ErrorEntry(
            g(e, "errorType", str, f"errors[{i}]."),
            g(e, "errorLevel", str, f"errors[{i}]."),
            r.opt(e, "errorDescription", str, "", f"errors[{i}]."),
            tuple(
                (
                    g(ref, "referenceKey", str, f"errors[{i}].errorReferences."),
                    g(ref, "referenceValue", str, f"errors[{i}].errorReferences."),
                )
                for ref in r.opt(e, "errorReferences", list, [], f"errors[{i}].")
            ),
        )
        for i, e in enumerate(r.items(message, "errors"))
    )
    battery = g(message, "batteryState", dict)
    safety = g(message, "safetyState", dict)
    raw_position = message.get("agvPosition")
    position = None
    if raw_position is not None:
        w = "agvPosition."
        position = Position(
            g(raw_position, "x", float, w),
            g(raw_position, "y", float, w),
            g(raw_position, "theta", float, w),
            g(raw_position, "mapId", str, w),
            g(raw_position, "positionInitialized", bool, w),
        )
    raw_loads = message.get("loads")
    loads = None
    if raw_loads is not None:
        loads = tuple(
            Load(
                r.opt(ld, "loadId", str, None, f"loads[{i}]."),
                r.opt(ld, "loadType", str, None, f"loads[{i}]."),
                r.opt(ld, "loadPosition", str, None, f"loads[{i}]."),
            )
            for i, ld in enumerate(r.items(message, "loads"))
        )
    raw_maps = message.get("maps")
    maps = None
    if raw_maps is not None:
        maps = tuple(
            MapEntry(
                g(m, "mapId", str, f"maps[{i}]."),
                g(m, "mapVersion", str, f"maps[{i}]."),
                g(m, "mapStatus", str, f"maps[{i}].") == "ENABLED",
            )
            for i, m in enumerate(r.items(message, "maps"))
        )
    return StateMessage(
        header=r.header(message),
        order_id=g(message, "orderId", str),
        order_update_id=g(message, "orderUpdateId", int),
        last_node_id=g(message, "lastNodeId", str),
        last_node_sequence_id=g(message, "lastNodeSequenceId", int),
        node_states=nodes,
        edge_states=edges,
        driving=g(message, "driving", bool),
        paused=r.opt(message, "paused", bool, False, ""),
        new_base_request=r.opt(message, "newBaseRequest", bool, False, ""),
        action_states=actions,
        battery_charge=g(battery, "batteryCharge", float, "batteryState."),
        charging=g(battery, "charging", bool, "batteryState."),
        operating_mode=g(message, "operatingMode", str),
        errors=errors,
        e_stop=g(safety, "eStop", str, "safetyState."),
        field_violation=g(safety, "fieldViolation", bool, "safetyState."),
        position=position,
        loads=loads,
        maps=maps,
    )


def parse_connection(message: Mapping[str, Any]) -> ConnectionMessage:
    r = _Reader("connection")
    value = r.get(message, "connectionState", str)
    try:
        state = ConnectionState(value)
    except ValueError:
        raise r.fail("connectionState", f"unknown value {value!r}") from None
    return ConnectionMessage(r.header(message), state)
