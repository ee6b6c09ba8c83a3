"""The vehicle's `factsheet` body (VDA 5050 2.1 §6.15): what it can do, for the master control.

It lists exactly what the model implements: pick/drop on nodes, the instant actions it
handles, the optional order fields it reads. Anything not listed is unsupported (§6.15.1).
"""

from __future__ import annotations

import copy
from typing import Any

LOAD_POSITION = "LHD1"
LOAD_TYPE = "TOTE"

_LOAD_PARAMS: list[dict[str, Any]] = [
    {"key": "loadId", "valueDataType": "STRING", "description": "tote id"},
    {
        "key": "stationType",
        "valueDataType": "STRING",
        "description": "rack or station",
        "isOptional": True,
    },
    {"key": "loadType", "valueDataType": "STRING", "isOptional": True},
]

_INSTANT_ACTIONS: list[dict[str, Any]] = [
    {"actionType": "cancelOrder", "actionScopes": ["INSTANT"]},
    {"actionType": "stateRequest", "actionScopes": ["INSTANT"]},
    {"actionType": "factsheetRequest", "actionScopes": ["INSTANT"]},
    {"actionType": "startPause", "actionScopes": ["INSTANT"]},
    {"actionType": "stopPause", "actionScopes": ["INSTANT"]},
    {
        "actionType": "startCharging",
        "actionDescription": "only while standing on a charger node",
        "actionScopes": ["INSTANT"],
    },
    {"actionType": "stopCharging", "actionScopes": ["INSTANT"]},
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
]

INSTANT_ACTION_TYPES = frozenset(a["actionType"] for a in _INSTANT_ACTIONS)


def factsheet_body(*, speed_mps: float, pick_time_s: float, drop_time_s: float) -> dict[str, Any]:
    """Everything but the header (a fresh copy: callers may add to it)."""
    return copy.deepcopy(
        {
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
                "speedMax": speed_mps,
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
                        "actionParameters": _LOAD_PARAMS,
                    },
                    {
                        "actionType": "drop",
                        "actionDescription": "set the tote `loadId` down on the node",
                        "actionScopes": ["NODE"],
                        "actionParameters": _LOAD_PARAMS,
                    },
                    *_INSTANT_ACTIONS,
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
                        "pickTime": pick_time_s,
                        "dropTime": drop_time_s,
                    }
                ],
            },
        }
    )
