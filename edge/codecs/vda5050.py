"""VDA 5050 2.1: decode AGV `state` / `connection`, encode `order` with per-topic header ids."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt

from controller.domain.messages import (
    ActionState,
    ActionStatus,
    AgvError,
    AgvPosition,
    AgvState,
    ConnectionState,
    RequestAgvState,
    SendAgvOrder,
)
from edge.codecs.common import WireModel, dumps, parse_json_object, utc_timestamp, validate
from edge.codecs.errors import PayloadError

PROTOCOL_VERSION = "2.1.0"


class _Header(WireModel):
    headerId: StrictInt = Field(ge=0)
    timestamp: str
    version: str
    manufacturer: str
    serialNumber: str


class _ActionState(WireModel):
    actionId: str
    actionType: str | None = None
    actionStatus: ActionStatus


class _ErrorReference(WireModel):
    referenceKey: str
    referenceValue: str


class _Error(WireModel):
    errorType: str
    errorLevel: Literal["WARNING", "FATAL"]
    errorDescription: str = ""
    errorReferences: list[_ErrorReference] = Field(default_factory=list)


class _Position(WireModel):
    x: StrictFloat | StrictInt
    y: StrictFloat | StrictInt
    theta: StrictFloat | StrictInt
    mapId: str
    positionInitialized: StrictBool


class _Safety(WireModel):
    eStop: str
    fieldViolation: StrictBool


class _Battery(WireModel):
    batteryCharge: StrictFloat | StrictInt
    charging: StrictBool


class AgvStatePayload(_Header):
    orderId: str
    orderUpdateId: StrictInt
    lastNodeId: str
    lastNodeSequenceId: StrictInt
    nodeStates: list[dict[str, Any]]
    edgeStates: list[dict[str, Any]]
    driving: StrictBool
    actionStates: list[_ActionState]
    batteryState: _Battery
    operatingMode: str
    errors: list[_Error]
    paused: StrictBool | None = None  # optional in 2.1
    agvPosition: _Position | None = None  # optional in 2.1
    safetyState: _Safety | None = None  # required by the schema; tolerated if missing


class AgvConnectionPayload(_Header):
    connectionState: ConnectionState


def _check_topic(header: _Header, manufacturer: str, serial: str) -> None:
    """CHECKLIST 13: a message whose header names another vehicle than its topic is refused."""
    if (header.manufacturer, header.serialNumber) != (manufacturer, serial):
        raise PayloadError(
            f"header names {header.manufacturer}/{header.serialNumber}, "
            f"topic {manufacturer}/{serial}"
        )


def decode_state(payload: bytes, manufacturer: str, serial: str) -> AgvState:
    msg = validate(AgvStatePayload, parse_json_object(payload))
    _check_topic(msg, manufacturer, serial)
    return AgvState(
        order_id=msg.orderId,
        last_node_id=msg.lastNodeId,
        driving=msg.driving,
        open_nodes=len(msg.nodeStates),
        open_edges=len(msg.edgeStates),
        action_states=tuple(
            ActionState(a.actionId, a.actionType or "", a.actionStatus) for a in msg.actionStates
        ),
        errors=tuple(
            AgvError(
                e.errorType,
                e.errorLevel,
                e.errorDescription,
                tuple((r.referenceKey, r.referenceValue) for r in e.errorReferences),
            )
            for e in msg.errors
        ),
        operating_mode=msg.operatingMode,
        battery_charge=msg.batteryState.batteryCharge,
        order_update_id=msg.orderUpdateId,
        charging=msg.batteryState.charging,
        paused=bool(msg.paused),
        e_stop=msg.safetyState.eStop if msg.safetyState else "NONE",
        position=_position(msg.agvPosition),
    )


def _position(position: _Position | None) -> AgvPosition | None:
    """CHECKLIST 56: x/y/theta mean nothing until the vehicle has initialised them."""
    if position is None or not position.positionInitialized:
        return None
    return AgvPosition(position.x, position.y, position.theta, position.mapId)


def decode_connection(payload: bytes, manufacturer: str, serial: str) -> ConnectionState:
    msg = validate(AgvConnectionPayload, parse_json_object(payload))
    _check_topic(msg, manufacturer, serial)
    return msg.connectionState


class OrderEncoder:
    """Builds `order` and `instantActions` messages; one headerId counter per AGV per topic
    (CHECKLIST 9)."""

    def __init__(self, map_id: str) -> None:
        self.map_id = map_id
        self._header_ids: defaultdict[tuple[str, str], int] = defaultdict(int)

    def _header(self, topic: str, manufacturer: str, serial: str, now: datetime) -> dict[str, Any]:
        key = (serial, topic)
        header_id = self._header_ids[key]
        self._header_ids[key] = header_id + 1
        return {
            "headerId": header_id,
            "timestamp": utc_timestamp(now),
            "version": PROTOCOL_VERSION,
            "manufacturer": manufacturer,
            "serialNumber": serial,
        }

    def order(self, cmd: SendAgvOrder, manufacturer: str, now: datetime) -> bytes:
        actions_at: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
        for action in cmd.actions:
            actions_at[action.node_index].append(
                {
                    "actionId": action.action_id,
                    "actionType": action.action_type,
                    "blockingType": "HARD",
                    "actionParameters": [{"key": k, "value": v} for k, v in action.parameters],
                }
            )
        nodes = [
            {
                "nodeId": node.node_id,
                "sequenceId": 2 * i,
                "released": True,
                "nodePosition": {"x": node.x, "y": node.y, "mapId": self.map_id},
                "actions": actions_at.get(i, []),
            }
            for i, node in enumerate(cmd.route)
        ]
        edges = [
            {
                "edgeId": f"{a.node_id}_{b.node_id}",
                "sequenceId": 2 * i + 1,
                "released": True,
                "startNodeId": a.node_id,
                "endNodeId": b.node_id,
                "actions": [],
            }
            for i, (a, b) in enumerate(zip(cmd.route, cmd.route[1:], strict=False))
        ]
        message = self._header("order", manufacturer, cmd.serial_number, now) | {
            "orderId": cmd.order_id,
            "orderUpdateId": 0,
            "nodes": nodes,
            "edges": edges,
        }
        return dumps(message)

    def state_request(self, cmd: RequestAgvState, manufacturer: str, now: datetime) -> bytes:
        action = {"actionId": cmd.action_id, "actionType": "stateRequest", "blockingType": "NONE"}
        header = self._header("instantActions", manufacturer, cmd.serial_number, now)
        return dumps(header | {"actions": [action]})
