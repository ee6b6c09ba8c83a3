"""Messages and routes for the master-control tests, after the checklist's samples S1-S5."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.vda5050.actions import ActionSpec, BlockingType, params
from controller.vda5050.events import Output, Publish
from controller.vda5050.headers import AgvAddress, Topic, utc_timestamp
from controller.vda5050.ids import counter_ids
from controller.vda5050.master import AgvMaster, MasterConfig
from controller.vda5050.order_builder import NodeSpec
from tests.vda5050_schemas import problems

NOW = datetime(2026, 11, 22, 9, 15, 3, 123456, tzinfo=UTC)
ADDRESS = AgvAddress("acme", "agv-001")
MAP = "wh-floor-1"

PICK = ActionSpec(
    "pick",
    BlockingType.HARD,
    params(stationType="rack", loadType="TOTE-600x400", loadId="TOTE-000123", height=0.8),
)
DROP = ActionSpec("drop", BlockingType.HARD, params(stationType="conveyor", loadId="TOTE-000123"))
PARK = NodeSpec("N-PARK-03", 2.0, 1.0, MAP, theta=0.0, allowed_deviation_xy=0.5)
AISLE = NodeSpec("N-AISLE-07", 12.0, 1.0, MAP)
RACK = NodeSpec("N-RACK-07-12", 12.0, 9.5, MAP, theta=1.5708, actions=(PICK,))
SORTER = NodeSpec("N-SORTER-IN-2", 30.0, 9.5, MAP, actions=(DROP,))
DOCK = NodeSpec("N-DOCK-1", 40.0, 9.5, MAP)
ROUTE = (PARK, AISLE, RACK, SORTER)


def header(header_id: int = 1, at: datetime = NOW, serial: str = "agv-001") -> dict[str, Any]:
    return {
        "headerId": header_id,
        "timestamp": utc_timestamp(at),
        "version": "2.1.0",
        "manufacturer": "acme",
        "serialNumber": serial,
    }


def state(header_id: int = 1, at: datetime = NOW, **fields: Any) -> dict[str, Any]:
    """An idle AGV at the park node, schema-valid; `fields` override top-level keys."""
    message = header(header_id, at) | {
        "orderId": "",
        "orderUpdateId": 0,
        "lastNodeId": "N-PARK-03",
        "lastNodeSequenceId": 0,
        "nodeStates": [],
        "edgeStates": [],
        "agvPosition": {
            "x": 2.0,
            "y": 1.0,
            "theta": 0.0,
            "mapId": MAP,
            "positionInitialized": True,
        },
        "maps": [{"mapId": MAP, "mapVersion": "2026-11-01", "mapStatus": "ENABLED"}],
        "driving": False,
        "actionStates": [],
        "batteryState": {"batteryCharge": 80.0, "charging": False},
        "operatingMode": "AUTOMATIC",
        "errors": [],
        "safetyState": {"eStop": "NONE", "fieldViolation": False},
    }
    message.update(copy.deepcopy(fields))
    return message


def connection(value: str = "ONLINE", header_id: int = 3, at: datetime = NOW) -> dict[str, Any]:
    return header(header_id, at) | {"connectionState": value}


ALL_ACTIONS = {
    "pick": ["NODE", "EDGE"],
    "drop": ["NODE", "EDGE"],
    "waitForTrigger": ["NODE"],
    "finePositioning": ["NODE"],
    "cancelOrder": ["INSTANT"],
    "stateRequest": ["INSTANT"],
    "factsheetRequest": ["INSTANT"],
    "startPause": ["INSTANT"],
    "stopPause": ["INSTANT"],
    "initPosition": ["INSTANT", "NODE"],
    "startCharging": ["INSTANT", "NODE"],
    "stopCharging": ["INSTANT", "NODE"],
}


def factsheet(
    actions: dict[str, list[str]] | None = None,
    optional: tuple[str, ...] = (
        "order.nodes.nodePosition.theta",
        "order.nodes.nodePosition.allowedDeviationXY",
        "order.nodes.nodePosition.allowedDeviationTheta",
        "order.edges.maxSpeed",
    ),
    max_string_lens: dict[str, Any] | None = None,
    max_array_lens: dict[str, Any] | None = None,
    timing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A schema-valid 2.1 factsheet with the parts we read."""
    return header(0) | {
        "typeSpecification": {
            "seriesName": "T1",
            "agvKinematic": "DIFF",
            "agvClass": "CARRIER",
            "maxLoadMass": 50,
            "localizationTypes": ["NATURAL"],
            "navigationTypes": ["AUTONOMOUS"],
        },
        "physicalParameters": {
            "speedMin": 0.0,
            "speedMax": 2.0,
            "accelerationMax": 1.0,
            "decelerationMax": 1.0,
            "heightMax": 1.2,
            "width": 0.6,
            "length": 0.9,
        },
        "protocolLimits": {
            "maxStringLens": max_string_lens or {},
            "maxArrayLens": max_array_lens or {},
            "timing": timing or {"minOrderInterval": 0.0, "minStateInterval": 0.5},
        },
        "protocolFeatures": {
            "optionalParameters": [{"parameter": p, "support": "SUPPORTED"} for p in optional],
            "agvActions": [
                {"actionType": t, "actionScopes": scopes}
                for t, scopes in (ALL_ACTIONS if actions is None else actions).items()
            ],
        },
        "agvGeometry": {},
        "loadSpecification": {},
    }


def online_master(
    *, sheet: dict[str, Any] | None = None, config: MasterConfig | None = None, **state_fields: Any
) -> AgvMaster:
    """A master for agv-001 with its factsheet, ONLINE, and a fresh state at NOW."""
    mc = AgvMaster(ADDRESS, config=config, new_id=counter_ids("id-"))
    mc.on_factsheet(sheet if sheet is not None else factsheet(), NOW)
    asked = published(mc.on_connection(connection(), NOW), Topic.INSTANT_ACTIONS)
    echoes = [  # the AGV answers the stateRequest sent on ONLINE (item 43)
        {"actionId": a["actionId"], "actionType": a["actionType"], "actionStatus": "FINISHED"}
        for m in asked
        for a in m["actions"]
    ]
    fields = state_fields | {"actionStates": echoes + state_fields.get("actionStates", [])}
    mc.on_state(state(**fields), NOW)
    return mc


def published(outputs: list[Output], topic: Topic | None = None) -> list[dict[str, Any]]:
    """The messages among `outputs`, each checked against the strict 2.1.0 schema."""
    messages = []
    for out in outputs:
        if isinstance(out, Publish) and (topic is None or out.topic is topic):
            assert problems(str(out.topic), out.message) == [], out.message
            messages.append(out.message)
    return messages


def of_type(outputs: list[Output], kind: type) -> list[Any]:
    return [o for o in outputs if isinstance(o, kind)]


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def order_state(order: dict[str, Any], header_id: int, at: datetime, **fields: Any) -> dict:
    """The AGV just took `order` and stands on its first node."""
    nodes, edges = order["nodes"], order["edges"]
    return state(
        header_id,
        at,
        orderId=order["orderId"],
        orderUpdateId=order["orderUpdateId"],
        lastNodeId=nodes[0]["nodeId"],
        lastNodeSequenceId=nodes[0]["sequenceId"],
        nodeStates=[
            {"nodeId": n["nodeId"], "sequenceId": n["sequenceId"], "released": n["released"]}
            for n in nodes[1:]
        ],
        edgeStates=[
            {"edgeId": e["edgeId"], "sequenceId": e["sequenceId"], "released": e["released"]}
            for e in edges
        ],
        actionStates=[
            {"actionId": a["actionId"], "actionType": a["actionType"], "actionStatus": "WAITING"}
            for n in nodes
            for a in n["actions"]
        ],
        **fields,
    )
