"""The simulated AGVs' `state` messages, written from VDA 5050 2.1 (`state.schema`), not from
the controller's code. The AGVs get their bases over a pipe, not as VDA 5050 orders (see
the package docstring); a state still reports its base ahead as the order's released node
and edge states, so that parsing it costs what an AGV on an order costs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from benchmarks.fleet_telemetry.site import MAP_ID

VDA_VERSION = "2.1.0"
HEADER_ID = re.compile(rb'"headerId":\s*(\d+)')
BATTERY_PCT = 80.0  # constant: nobody is sent to charge (see the package docstring)


def vda_now() -> str:
    now = datetime.now(UTC)
    return f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z"


def state_message(
    manufacturer: str,
    serial_number: str,
    header_id: int,
    timestamp: str,
    node_id: str,
    x: float,
    y: float,
    *,
    ahead: tuple[str, ...] = (),
    driving: bool = True,
) -> dict[str, Any]:
    """The state of an AGV standing on (or just past) `node_id` at (x, y), its order's
    released nodes `ahead` of it still to drive."""
    return {
        "headerId": header_id,
        "timestamp": timestamp,
        "version": VDA_VERSION,
        "manufacturer": manufacturer,
        "serialNumber": serial_number,
        "maps": [{"mapId": MAP_ID, "mapVersion": "1", "mapStatus": "ENABLED"}],
        "orderId": f"{serial_number}-run",
        "orderUpdateId": 0,
        "lastNodeId": node_id,
        "lastNodeSequenceId": 0,
        "nodeStates": node_states(ahead),
        "edgeStates": edge_states(node_id, ahead),
        "agvPosition": {
            "x": x,
            "y": y,
            "theta": 0.0,
            "mapId": MAP_ID,
            "positionInitialized": True,
            "localizationScore": 1.0,
        },
        "velocity": {"vx": 0.0, "vy": 0.0, "omega": 0.0},
        "loads": [],
        "driving": driving,
        "paused": False,
        "newBaseRequest": False,
        "distanceSinceLastNode": 0.0,
        "actionStates": [],
        "batteryState": {"batteryCharge": BATTERY_PCT, "batteryVoltage": 48.2, "charging": False},
        "operatingMode": "AUTOMATIC",
        "errors": [],
        "information": [],
        "safetyState": {"eStop": "NONE", "fieldViolation": False},
    }


def node_states(ahead: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {"nodeId": node, "sequenceId": 2 * (j + 1), "released": True}
        for j, node in enumerate(ahead)
    ]


def edge_states(node_id: str, ahead: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {"edgeId": f"{a}-{b}", "sequenceId": 2 * j + 1, "released": True}
        for j, (a, b) in enumerate(zip((node_id, *ahead), ahead, strict=False))
    ]


class StateTemplate:
    """One AGV's state encoded once, with holes for what changes: encoding a state is then
    one `%` format (~2 µs), so that the AGVs, which are other machines in reality, take as
    little of this machine's CPU as they can."""

    def __init__(self, manufacturer: str, serial_number: str) -> None:
        message = state_message(manufacturer, serial_number, 0, "@t@", "@n@", 0.0, 0.0)
        message["headerId"] = "@h@"
        message["agvPosition"]["x"] = "@x@"
        message["agvPosition"]["y"] = "@y@"
        message["driving"] = "@d@"
        message["nodeStates"] = "@ns@"
        message["edgeStates"] = "@es@"
        text = json.dumps(message).replace("%", "%%")
        formats = {"h": "%(h)d", "t": '"%(t)s"', "n": '"%(n)s"', "x": "%(x)r", "y": "%(y)r"}
        for hole, format_ in {**formats, "d": "%(d)s", "ns": "%(ns)s", "es": "%(es)s"}.items():
            text = text.replace(f'"@{hole}@"', format_)
        self._text = text

    def encode(
        self,
        header_id: int,
        timestamp: str,
        node_id: str,
        x: float,
        y: float,
        driving: bool,
        ahead: tuple[str, ...] = (),
    ) -> bytes:
        values = {"h": header_id, "t": timestamp, "n": node_id, "x": x, "y": y}
        nodes = ", ".join(
            f'{{"nodeId": "{node}", "sequenceId": {2 * (j + 1)}, "released": true}}'
            for j, node in enumerate(ahead)
        )
        edges = ", ".join(
            f'{{"edgeId": "{a}-{b}", "sequenceId": {2 * j + 1}, "released": true}}'
            for j, (a, b) in enumerate(zip((node_id, *ahead), ahead, strict=False))
        )
        text = self._text % {
            **values,
            "d": "true" if driving else "false",
            "ns": f"[{nodes}]",
            "es": f"[{edges}]",
        }
        return text.encode()
