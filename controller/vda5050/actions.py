"""Actions: what we send (ids, blocking types, typed parameters; item 30), the predefined
actions of §6.8 with their scopes and parameter keys (items 26, 27), and the action-state
diagram we accept from the AGV (item 54, §6.11)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from controller.domain.messages import ActionStatus
from controller.vda5050.ids import IdFactory

ParameterValue = str | int | float | bool | list[Any] | dict[str, Any]


class BlockingType(StrEnum):
    NONE = "NONE"
    SOFT = "SOFT"
    HARD = "HARD"


class ActionScope(StrEnum):
    """Where an action may be used (factsheet `actionScopes`, §6.15)."""

    INSTANT = "INSTANT"
    NODE = "NODE"
    EDGE = "EDGE"


_I, _N, _E = ActionScope.INSTANT, ActionScope.NODE, ActionScope.EDGE
# §6.8.1/§6.8.2: the predefined actions, the scopes the table allows them in, and their keys.
PREDEFINED_SCOPES: dict[str, frozenset[ActionScope]] = {
    "startPause": frozenset({_I}),
    "stopPause": frozenset({_I}),
    "startCharging": frozenset({_I, _N}),
    "stopCharging": frozenset({_I, _N}),
    "initPosition": frozenset({_I, _N}),
    "stateRequest": frozenset({_I}),
    "logReport": frozenset({_I}),
    "pick": frozenset({_N, _E}),
    "drop": frozenset({_N, _E}),
    "detectObject": frozenset({_N, _E}),
    "finePositioning": frozenset({_N, _E}),
    "waitForTrigger": frozenset({_N, _E}),
    "cancelOrder": frozenset({_I}),
    "factsheetRequest": frozenset({_I}),
}
_LOAD_KEYS = frozenset(
    {"lhd", "stationType", "stationName", "loadType", "loadId", "height", "depth", "side"}
)
PREDEFINED_PARAMETERS: dict[str, frozenset[str]] = {
    "initPosition": frozenset({"x", "y", "theta", "mapId", "lastNodeId"}),
    "logReport": frozenset({"reason"}),
    "pick": _LOAD_KEYS,
    "drop": _LOAD_KEYS,
    "detectObject": frozenset({"objectType"}),
    "finePositioning": frozenset({"stationType", "stationName"}),
    "waitForTrigger": frozenset({"triggerType"}),
}
NEVER_INSTANT = frozenset(
    t for t, scopes in PREDEFINED_SCOPES.items() if _I not in scopes
)  # item 27: pick, drop, detectObject, finePositioning, waitForTrigger

# §6.11 action-state diagram, closed over the steps a 30 s state interval can skip:
# forward only, PAUSED <-> RUNNING, nothing leaves FINISHED or FAILED.
_S = ActionStatus
LEGAL_TRANSITIONS: dict[ActionStatus, frozenset[ActionStatus]] = {
    _S.WAITING: frozenset({_S.INITIALIZING, _S.RUNNING, _S.PAUSED, _S.FINISHED, _S.FAILED}),
    _S.INITIALIZING: frozenset({_S.RUNNING, _S.PAUSED, _S.FINISHED, _S.FAILED}),
    _S.RUNNING: frozenset({_S.PAUSED, _S.FINISHED, _S.FAILED}),
    _S.PAUSED: frozenset({_S.RUNNING, _S.FINISHED, _S.FAILED}),
    _S.FINISHED: frozenset(),
    _S.FAILED: frozenset(),
}


def legal_transition(before: ActionStatus, after: ActionStatus) -> bool:
    return before is after or after in LEGAL_TRANSITIONS[before]


@dataclass(frozen=True, slots=True)
class ActionParameter:
    key: str
    value: ParameterValue  # typed JSON: numbers stay numbers (item 30)


@dataclass(frozen=True, slots=True)
class Action:
    """An action as sent; its `action_id` never changes once sent (items 30, 33)."""

    action_id: str
    action_type: str
    blocking_type: BlockingType
    parameters: tuple[ActionParameter, ...] = ()

    def to_json(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "actionId": self.action_id,
            "actionType": self.action_type,
            "blockingType": self.blocking_type.value,
        }
        if self.parameters:
            message["actionParameters"] = [
                {"key": p.key, "value": p.value} for p in self.parameters
            ]
        return message


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """An action to send; `action_id` None means "make one" with the id factory."""

    action_type: str
    blocking_type: BlockingType = BlockingType.HARD
    parameters: tuple[ActionParameter, ...] = ()
    action_id: str | None = None

    def __post_init__(self) -> None:
        for p in self.parameters:
            if isinstance(p.value, float) and not math.isfinite(p.value):
                raise ValueError(f"{self.action_type}: parameter {p.key} is {p.value}")

    def same_as(self, action: Action) -> bool:
        """Whether an already sent `action` is this one (its id may be reused: item 34)."""
        return (
            (self.action_id is None or self.action_id == action.action_id)
            and self.action_type == action.action_type
            and self.blocking_type is action.blocking_type
            and self.parameters == action.parameters
        )

    def make(self, new_id: IdFactory) -> Action:
        action_id = self.action_id if self.action_id is not None else new_id()
        return Action(action_id, self.action_type, self.blocking_type, self.parameters)


def params(**values: ParameterValue) -> tuple[ActionParameter, ...]:
    """`params(loadId="T-1", height=0.8)` → the `actionParameters` tuple."""
    return tuple(ActionParameter(k, v) for k, v in values.items())
