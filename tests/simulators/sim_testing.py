"""Helpers shared by the simulator tests."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

from tests.vda5050_schemas import errata_validator, raw_schema

REPO = Path(__file__).resolve().parents[2]
TIMESTAMP_2X = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\dZ$")  # VDA 5050 2.x: ss.ffZ

MAP = "demo-floor"
POS = {
    "P1": (-3.0, 0.0),
    "F00": (0.0, 0.0),
    "F03": (3.0, 0.0),
    "F06": (6.0, 0.0),
    "A1-01": (6.0, 4.0),
    "A1-02": (6.0, 8.0),
    "A1-03": (6.0, 12.0),
    "F42": (42.0, 0.0),
    "CH1": (45.0, 0.0),
}


def action(action_id: str, action_type: str, load_id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"actionId": action_id, "actionType": action_type, "blockingType": "HARD"}
    if load_id is not None:
        out["actionParameters"] = [
            {"key": "loadId", "value": load_id},
            {"key": "stationType", "value": "rack"},
        ]
    return out


def order(
    node_ids: list[str],
    *,
    order_id: str = "o-1",
    update_id: int = 0,
    actions: dict[int, list[dict[str, Any]]] | None = None,
    first_seq: int = 0,
    released: int | None = None,
    header_id: int = 1,
) -> dict[str, Any]:
    actions = actions or {}
    released = len(node_ids) if released is None else released
    nodes = [
        {
            "nodeId": n,
            "sequenceId": first_seq + 2 * i,
            "released": i < released,
            "nodePosition": {"x": POS[n][0], "y": POS[n][1], "mapId": MAP},
            "actions": actions.get(i, []),
        }
        for i, n in enumerate(node_ids)
    ]
    edges = [
        {
            "edgeId": f"{a}-{b}",
            "sequenceId": first_seq + 2 * i + 1,
            "released": i + 1 < released,
            "startNodeId": a,
            "endNodeId": b,
            "actions": [],
        }
        for i, (a, b) in enumerate(itertools.pairwise(node_ids))
    ]
    return {
        "headerId": header_id,
        "timestamp": "2026-11-22T09:15:03.12Z",
        "version": "2.1.0",
        "manufacturer": "simbotics",
        "serialNumber": "AGV-01",
        "orderId": order_id,
        "orderUpdateId": update_id,
        "nodes": nodes,
        "edges": edges,
    }


def instant(*actions: tuple[str, str]) -> dict[str, Any]:
    return {
        "headerId": 1,
        "timestamp": "2026-11-22T09:15:03.12Z",
        "version": "2.1.0",
        "manufacturer": "simbotics",
        "serialNumber": "AGV-01",
        "actions": [
            {"actionId": aid, "actionType": atype, "blockingType": "NONE"} for aid, atype in actions
        ],
    }


validator = errata_validator  # published schema + errata (PAUSED); unknown keys checked apart


def unknown_keys(instance: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Keys the schema does not declare (the schemas allow them; a typo would slip by)."""
    found = []
    if isinstance(instance, dict) and "properties" in schema:
        props = schema["properties"]
        for key, value in instance.items():
            if key not in props:
                found.append(f"{path}.{key}")
            else:
                found += unknown_keys(value, props[key], f"{path}.{key}")
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for i, value in enumerate(instance):
            found += unknown_keys(value, schema["items"], f"{path}[{i}]")
    return found


def assert_valid(name: str, message: dict[str, Any]) -> None:
    errors = sorted(validator(name).iter_errors(message), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    assert unknown_keys(message, raw_schema(name)) == []
    assert TIMESTAMP_2X.match(message["timestamp"])
    assert message["version"] == "2.1.0"
