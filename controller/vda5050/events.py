"""What the master control hands back: messages to publish and events for the rest of the
controller (past tense: they happened). Expected outcomes are events, not exceptions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from controller.vda5050.headers import Topic
from controller.vda5050.inbound import ErrorEntry


def encode(message: dict[str, Any]) -> bytes:
    """UTF-8 JSON without NaN/Infinity (items 1, 14); compact, as sizes count (item 28)."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode(
        "utf-8"
    )


@dataclass(frozen=True, slots=True)
class Publish:
    """Publish `message` on `topic_name`: QoS 0, never retained (items 4, 6; §6.2)."""

    topic: Topic
    topic_name: str
    message: dict[str, Any]

    def payload(self) -> bytes:
        return encode(self.message)


class IncidentKind(StrEnum):
    ORDER_NOT_ACCEPTED = "order_not_accepted"  # item 38: resends exhausted
    ORDER_REJECTED = "order_rejected"  # item 40
    INSTANT_ACTIONS_NOT_ECHOED = "instant_actions_not_echoed"  # item 43
    WAIT_FOR_TRIGGER_TIMEOUT = "wait_for_trigger_timeout"  # item 47


@dataclass(frozen=True, slots=True)
class Incident:
    """Something a human (through the central API) must look at."""

    serial_number: str
    kind: IncidentKind
    detail: str
    order_id: str | None = None


@dataclass(frozen=True, slots=True)
class MessageIgnored:
    """An incoming message we did not process: it names another vehicle (item 13; the
    message is wrong for its topic) or it is older than the last one (item 10; normal)."""

    serial_number: str
    topic: Topic
    reason: str
    names_another_vehicle: bool = False


@dataclass(frozen=True, slots=True)
class IllegalActionTransition:
    """Item 54: logged, not acted on."""

    serial_number: str
    action_id: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class OrderRefused:
    """We did not send an order or update; `reason` says why (nothing was published)."""

    serial_number: str
    order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class InstantActionsRefused:
    serial_number: str
    action_types: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    serial_number: str
    order_id: str
    order_update_id: int


@dataclass(frozen=True, slots=True)
class OrderRejected:
    serial_number: str
    order_id: str
    order_update_id: int
    errors: tuple[ErrorEntry, ...]


@dataclass(frozen=True, slots=True)
class OrderFailed:
    """Item 66: derived from FAILED actions or FATAL errors referencing the order."""

    serial_number: str
    order_id: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OrderCompleted:
    """The AGV is idle on this order with every one of its actions FINISHED."""

    serial_number: str
    order_id: str


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    """Item 44: only once the `cancelOrder` action is FINISHED."""

    serial_number: str
    order_id: str


@dataclass(frozen=True, slots=True)
class InstantActionEnded:
    serial_number: str
    action_id: str
    action_type: str
    status: str  # FINISHED | FAILED
    errors: tuple[ErrorEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class BaseExtensionDue:
    """Item 37: release more of the route now (`newBaseRequest`) or soon (near the decision
    point), if traffic allows."""

    serial_number: str
    order_id: str
    order_update_id: int
    requested_by_agv: bool


Event = (
    Incident
    | MessageIgnored
    | IllegalActionTransition
    | OrderRefused
    | InstantActionsRefused
    | OrderAccepted
    | OrderRejected
    | OrderFailed
    | OrderCompleted
    | OrderCancelled
    | InstantActionEnded
    | BaseExtensionDue
)
Output = Publish | Event
