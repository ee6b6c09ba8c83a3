"""Driving the AGV model on a virtual clock in tests: every state it is asked for is checked
against the 2.1.0 schema (with errata) as it is made."""

from __future__ import annotations

import itertools
from typing import Any

from simulators.agv.model import AgvModel
from tests.simulators.sim_testing import assert_valid

TS = "2026-11-22T09:15:03.12Z"
_header_ids = itertools.count()


def state(agv: AgvModel, now: float) -> dict[str, Any]:
    message = agv.state(now, next(_header_ids), TS)
    assert_valid("state", message)
    return message


def run_until_idle(agv: AgvModel, start: float = 0.0) -> list[tuple[float, dict[str, Any]]]:
    """Step the virtual clock from due time to due time; the state after each step."""
    seen = []
    for _ in range(100):
        due = agv.next_due()
        if due is None:
            return seen
        agv.advance(due)
        seen.append((due, state(agv, due)))
    raise AssertionError("the vehicle never became idle")


def statuses(seen: list[tuple[float, dict[str, Any]]], action_id: str) -> list[tuple[float, str]]:
    """The status changes of one action, with when they were first seen."""
    out: list[tuple[float, str]] = []
    for now, st in seen:
        for a in st["actionStates"]:
            if a["actionId"] == action_id and (not out or out[-1][1] != a["actionStatus"]):
                out.append((now, a["actionStatus"]))
    return out


def by_id(st: dict[str, Any]) -> dict[str, str]:
    return {a["actionId"]: a["actionStatus"] for a in st["actionStates"]}


def refs(error: dict[str, Any]) -> dict[str, str]:
    return {r["referenceKey"]: r["referenceValue"] for r in error["errorReferences"]}


def instant_with(action_id: str, action_type: str, **params: Any) -> dict[str, Any]:
    return {
        "headerId": 1,
        "timestamp": TS,
        "version": "2.1.0",
        "manufacturer": "simbotics",
        "serialNumber": "AGV-01",
        "actions": [
            {
                "actionId": action_id,
                "actionType": action_type,
                "blockingType": "NONE",
                "actionParameters": [{"key": k, "value": v} for k, v in params.items()],
            }
        ],
    }
